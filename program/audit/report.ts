// What `fleet audit` prints: the entries (entries.ts) as lines for people.
import { nameAFew } from '../../shared/name-a-few';
import type { FleetChange } from './changes';
import type { AuditEntry } from './entries';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const list = (keys: string[]) => keys.join(', ');

export function describeChange(change: FleetChange): string {
  switch (change.kind) {
    case 'device-added':
      return `device ${change.device}: joined the ring${change.ring ? ` ${change.ring}` : ''}, image ${change.image ?? '(none)'}`;
    case 'device-removed':
      return `device ${change.device}: left the ring (it had image ${change.image ?? '(none)'})`;
    case 'image':
      return `device ${change.device}: image ${change.from ?? '(none)'} → ${change.to ?? '(none)'}`;
    case 'configuration': {
      const parts: string[] = [];
      if (change.keys.length > 0) parts.push(`keys ${list(change.keys)}`);
      if (change.secretKeys === null) parts.push('secret keys (not readable here)');
      else if (change.secretKeys.length > 0) parts.push(`secret keys ${list(change.secretKeys)}`);
      const what = parts.length > 0 ? parts.join(' and ') : 'no keys';
      return change.created ? `device ${change.device}: configuration set (${what})` : `device ${change.device}: configuration ${what} changed`;
    }
    case 'configuration-removed':
      return `device ${change.device}: configuration no longer managed`;
    case 'configuration-reapplied':
      return change.secretsCompared
        ? `device ${change.device}: configuration sent again (drift corrected)`
        : `device ${change.device}: configuration sent again (drift corrected, or a secret value changed)`;
    case 'image-redeployed':
      return change.devices.length > 0
        ? `image ${change.image} deployed again to ${nameAFew(change.devices)} (drift corrected)`
        : `image ${change.image} deployed again to ${plural(change.count, 'device')} of its set (drift corrected)`;
    case 'deployment-failed':
      return `image ${change.image} failed on ${nameAFew(change.devices)}${change.deploymentId ? ` (Mender deployment ${change.deploymentId})` : ''}`;
    case 'drift-image':
      return `drift: device ${change.device} does not run ${change.image}`;
    case 'drift-configuration':
      return `drift: device ${change.device}: configuration keys ${list(change.keys)} differ from Git`;
    case 'wave':
      return `device ${change.device}: sent ${change.image} in wave ${change.wave} of ${change.of}`;
    case 'rollout-stopped': {
      const bad = change.failed.length + change.timedOut.length;
      const pct = Number.isInteger(change.failurePercent) ? change.failurePercent : change.failurePercent.toFixed(1);
      const who = [...(change.failed.length > 0 ? [`failed: ${nameAFew(change.failed)}`] : []), ...(change.timedOut.length > 0 ? [`timed out: ${nameAFew(change.timedOut)}`] : [])].join('; ');
      return `rollout of ${change.image} ${change.phase === 'rolled-back' ? 'stopped and rolled back' : 'stopped'} at wave ${change.wave} of ${change.of}: ${bad} failed of ${change.judged} judged (${pct} %, limit ${change.limitPercent} %)${who ? `; ${who}` : ''}`;
    }
    case 'rolled-back':
      return `device ${change.device}: rolled back from ${change.image} to ${change.to}`;
  }
}

/** `2026-11-25T14:03:11.000Z` → `2026-11-25T14:03:11Z` */
const isoSeconds = (time?: string) => (time ? time.replace(/\.\d+Z$/, 'Z') : '(unknown time)');

export function formatEntry(entry: AuditEntry): string {
  const head = [`#${entry.version} ${isoSeconds(entry.startTime)}`];
  if (entry.kind !== 'update') head.push(entry.kind);
  if (entry.git?.sha) {
    const who = entry.git.author ? ` by ${entry.git.author}${entry.git.authorEmail ? ` <${entry.git.authorEmail}>` : ''}` : '';
    head.push(`commit ${entry.git.sha.slice(0, 7)}${entry.git.dirty ? ' (with uncommitted changes)' : ''}${who}`);
  } else {
    head.push('commit unknown (not run from a Git checkout)');
  }
  if (entry.message) head.push(JSON.stringify(entry.message.split('\n')[0]));
  if (entry.result && entry.result !== 'succeeded') head.push(entry.result.toUpperCase());
  const lines = [head.join('  ')];
  if (entry.ci) {
    const ci = entry.ci;
    const where = [ci['ci.system'], ci['ci.build.id'] ? `build ${ci['ci.build.id']}` : undefined, ci['ci.build.url']].filter(Boolean).join(' ');
    if (where) lines.push(`    ci: ${where}`);
  }
  for (const override of entry.promotionOverrides) lines.push(`    promotion override: ${override.image} (${override.reason || 'no reason given'})`);
  if (entry.changes === null) lines.push('    fleet changes unknown: the backend cannot give this checkpoint');
  else if (entry.changes.length === 0) lines.push('    no change on the fleet');
  else for (const change of entry.changes) lines.push(`    ${describeChange(change)}`);
  return lines.join('\n');
}

export function formatAudit(entries: AuditEntry[]): string {
  if (entries.length === 0) return 'no updates in range';
  return entries.map(formatEntry).join('\n');
}
