// Where each rollout of the ring stands, in words: wave n of m, the devices per status, the
// gate's figures against the limit, and what the next up starts and when. `fleet plan` (and the
// pull request's comment) and `fleet status` say it from the same reading an up acts on
// (provider/rollout/standing.ts).
import { describeCounts, describeFigures } from '../provider/rollout/advance';
import type { RolloutPolicy } from '../provider/rollout/policy';
import { isStopped, RolloutProgress } from '../provider/rollout/progress';
import type { Standing } from '../provider/rollout/standing';

export interface RolloutReport {
  image: string;
  /** The first line, then the details. */
  lines: string[];
}

/** "14:30 UTC" (with the date when it is not today's, in Mender's time). */
export function clockTime(ms: number, now: number): string {
  const at = new Date(ms).toISOString();
  const sameDay = at.slice(0, 10) === new Date(now).toISOString().slice(0, 10);
  return `${sameDay ? '' : `${at.slice(0, 10)} `}${at.slice(11, 16)} UTC`;
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

export function rolloutReport(image: string, policy: RolloutPolicy, progress: RolloutProgress, standing: Standing | undefined, now: number): RolloutReport {
  const of = standing?.assignment.length ?? progress.of;
  const wave = progress.waves.length;
  if (isStopped(progress) || !standing) {
    const back = Object.entries(progress.breach?.rolledBack ?? {}).map(([to, ids]) => `${ids.length} to ${to}`);
    const how = progress.phase === 'rolled-back' ? `rolled back (${back.length > 0 ? back.join(', ') : 'no device had installed it'})` : progress.phase === 'stopped' ? 'stopped' : progress.phase;
    return {
      image,
      lines: [
        `Rollout of ${image}: ${how} at wave ${wave} of ${of}`,
        ...(progress.breach ? [`gate: ${describeFigures(progress.breach.figures)}`] : []),
        ...(isStopped(progress) ? [`no up starts ${image} in this ring again until Git names another image`] : []),
      ],
    };
  }
  const { step, counts, assignment } = standing;
  const where = step.kind === 'done' ? `every wave done (${of})` : step.kind === 'breach' ? `wave ${wave} of ${of}` : `wave ${step.wave} of ${of}`;
  const state = step.kind === 'soak' ? ' (soaking)' : step.kind === 'paused' ? ' (paused)' : step.kind === 'wait' ? ' (running)' : '';
  let next: string;
  switch (step.kind) {
    case 'wait': {
      const started = standing.devices.filter((d) => d.wave === step.wave).map((d) => d.startedAt);
      const timeout = started.length > 0 ? Math.min(...started) + policy.deviceTimeoutMinutes * 60_000 : undefined;
      next = `waiting for ${plural(step.running.length + step.missing.length, 'device')} of wave ${step.wave}${timeout ? `; a device not finished by ${clockTime(timeout, now)} counts as failed` : ''}`;
      break;
    }
    case 'soak':
      next = `wave ${step.wave + 1} of ${of}: ${plural(assignment[step.wave]?.length ?? 0, 'device')}, once the soak ends at ${clockTime(step.until, now)}`;
      break;
    case 'paused':
      next = `paused (fleet:rollout.paused): no new wave starts; then wave ${wave + 1} of ${of}: ${plural(assignment[wave]?.length ?? 0, 'device')}`;
      break;
    case 'start':
      next = `the next up starts wave ${step.wave} of ${of}: ${plural(step.devices.length, 'device')}`;
      break;
    case 'breach':
      next = `the next up stops it: the gate is breached (onFailure: ${step.action})`;
      break;
    case 'done':
      next = 'nothing: every device of the rollout finished';
      break;
  }
  return {
    image,
    lines: [`Rollout of ${image}: ${where}${state}: ${describeCounts(counts)}`, `gate: ${describeFigures(step.figures)}`, `next: ${next}`],
  };
}
