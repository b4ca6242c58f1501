// The audit of a ring stack, as a pure function: Pulumi's update history plus the checkpoint
// each update left behind → what changed on the fleet, in the fleet's terms (devices, images,
// configuration keys). Secret values arrive as the engine opened them (`--show-secrets`, or
// cli/checkpoint-secrets.ts) and snapshotOf turns them into digests at once; a secret still
// sealed counts as unreadable. Nothing here keeps or prints a value.
import { createHash, randomBytes } from 'node:crypto';
import { specialSecretSig, specialSigKey } from '@pulumi/pulumi/runtime/rpc';
import { promotionOverridesOf } from '../program/pipeline/settings';
import type { PromotionOverride } from '../program/pipeline/gate';
import type { DeviceSummary } from '../program/pipeline/declare';
import { differingKeys } from '../shared/health';
import { nameAFew } from '../shared/name-a-few';

/** One entry of `pulumi stack history --json` (or a file backend's `.history.json`). */
export interface UpdateInfo {
  /** 1, 2, … oldest first. The file backend records 0 for every update; the loader numbers them. */
  version: number;
  kind: string;
  result?: string;
  /** ISO 8601 */
  startTime?: string;
  endTime?: string;
  message?: string;
  environment?: Record<string, string>;
  /** The stack configuration the update ran with (`key` → value as a string). */
  config?: Record<string, string>;
  resourceChanges?: Record<string, number>;
}

/** The deployment (`pulumi stack export`) an update left, reduced to what the audit compares. */
export interface FleetSnapshot {
  ring?: string;
  /** The `devices` stack output: id → desired state. */
  devices: Record<string, SnapshotDevice>;
  deployments: SnapshotDeployment[];
  /** Configurations by device id (from DeviceConfigurationSet resources, or the per-device DeviceConfiguration of older stacks). */
  configurations: Record<string, SnapshotConfiguration>;
}

/** The `devices` output of an update; checkpoints of older versions lack some fields. */
export type SnapshotDevice = Partial<DeviceSummary>;

export interface SnapshotDeployment {
  artifactName: string;
  devices: string[];
  deploymentId?: string;
  deploymentIds: string[];
  status?: string;
  statistics: Record<string, number>;
  failedDevices: string[];
  outOfSync: string[];
}

export interface SnapshotConfiguration {
  values: Record<string, string>;
  /** Secret key → digest of its value (never the value); undefined when it could not be read. */
  secretDigests?: Record<string, string>;
  deploymentId?: string;
  inSync?: boolean;
  driftedKeys: string[];
}

/** One change on the fleet between two updates. */
export type FleetChange =
  | { kind: 'device-added'; device: string; ring?: string; image?: string }
  | { kind: 'device-removed'; device: string; image?: string }
  | { kind: 'image'; device: string; from?: string; to?: string }
  | {
      kind: 'configuration';
      device: string;
      /** Plain keys added, removed or changed. */
      keys: string[];
      /** Secret keys added, removed or changed; null when the secrets could not be compared. */
      secretKeys: string[] | null;
      /** True when the device had no configuration managed before. */
      created?: boolean;
    }
  | { kind: 'configuration-removed'; device: string }
  /** Same configuration in Git, sent again: drift corrected (or, when secrets are unreadable, maybe a secret changed). */
  | { kind: 'configuration-reapplied'; device: string; secretsCompared: boolean }
  /** Same image and devices, a new Mender deployment: devices that had drifted got the image again. */
  | { kind: 'image-redeployed'; image: string; devices: string[]; count: number }
  | { kind: 'deployment-failed'; image: string; devices: string[]; deploymentId?: string }
  /** Found by a refresh: the device does not run the image Git wants. */
  | { kind: 'drift-image'; device: string; image: string }
  /** Found by a refresh: the device's configuration differs from Git in these keys. */
  | { kind: 'drift-configuration'; device: string; keys: string[] };

export interface GitInfo {
  sha?: string;
  ref?: string;
  dirty: boolean;
  author?: string;
  authorEmail?: string;
  committer?: string;
  committerEmail?: string;
}

export interface AuditEntry extends Pick<UpdateInfo, 'version' | 'kind' | 'result' | 'startTime' | 'endTime' | 'message'> {
  git: GitInfo | null;
  /** The `ci.*` and `vcs.*` keys Pulumi recorded when the update ran in CI. */
  ci: Record<string, string> | null;
  /** Promotion overrides in force for this update (config `fleet:promotionOverride`). */
  promotionOverrides: { image: string; reason: string }[];
  /** null when the checkpoint of this update (or of the one before) is not available. */
  changes: FleetChange[] | null;
  resourceChanges?: Record<string, number>;
}

// ------------------------------------------------------------------ snapshots

interface ExportedResource {
  urn: string;
  type: string;
  outputs?: Record<string, unknown>;
}

/** Whether a value of an exported deployment is a Pulumi secret (ciphertext or plaintext form). */
export function isSecretValue(value: unknown): value is { ciphertext?: string; plaintext?: string } {
  return typeof value === 'object' && value !== null && (value as Record<string, unknown>)[specialSigKey] === specialSecretSig;
}

/** A secret's value when the export holds it in clear (`--show-secrets`), else undefined. */
function plainSecret(value: unknown): unknown {
  if (!isSecretValue(value)) return value;
  if (typeof value.plaintext === 'string') return JSON.parse(value.plaintext);
  return undefined;
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
const stringMap = (value: unknown): Record<string, string> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, String(v)]))
    : {};
const typeName = (type: string) => type.slice(type.lastIndexOf(':') + 1);
const resourceName = (urn: string) => urn.slice(urn.lastIndexOf('::') + 2);

/** A random salt per process: digests of secret values compare within one audit and mean nothing outside it. */
const digestSalt = randomBytes(16);
export function secretDigest(key: string, value: string): string {
  return createHash('sha256').update(digestSalt).update(key).update('\0').update(value).digest('hex');
}

/** One device's configuration from a resource's outputs (`values`, `secretValues`), secrets only as digests. */
function configurationOf(
  entry: Record<string, unknown>,
  status: { deploymentId: unknown; inSync: unknown; driftedKeys: unknown },
): SnapshotConfiguration {
  const secrets = plainSecret(entry.secretValues);
  const secretDigests = secrets === undefined || secrets === null ? undefined : Object.fromEntries(Object.entries(stringMap(secrets)).map(([k, v]) => [k, secretDigest(k, v)]));
  return {
    values: stringMap(plainSecret(entry.values)),
    secretDigests: entry.secretValues === undefined ? {} : secretDigests,
    deploymentId: typeof status.deploymentId === 'string' ? status.deploymentId : undefined,
    inSync: typeof status.inSync === 'boolean' ? status.inSync : undefined,
    driftedKeys: strings(status.driftedKeys).sort(),
  };
}

/** Reduces `pulumi stack export` output (its `deployment`) to a FleetSnapshot. */
export function snapshotOf(deployment: { resources?: ExportedResource[] } | undefined): FleetSnapshot {
  const snapshot: FleetSnapshot = { devices: {}, deployments: [], configurations: {} };
  let devicesRead = false;
  for (const resource of deployment?.resources ?? []) {
    const outputs = resource.outputs ?? {};
    const type = typeName(resource.type);
    if (resource.type === 'pulumi:pulumi:Stack') {
      const ring = plainSecret(outputs.ring);
      if (typeof ring === 'string') snapshot.ring = ring;
      // A secret since previews stopped printing it (older checkpoints hold it in clear).
      const devices = plainSecret(outputs.devices);
      if (devices && typeof devices === 'object') {
        snapshot.devices = devices as Record<string, SnapshotDevice>;
        devicesRead = true;
      }
    } else if (type === 'MenderDeployment') {
      snapshot.deployments.push({
        artifactName: String(outputs.artifactName ?? resourceName(resource.urn)),
        devices: strings(outputs.devices).sort(),
        deploymentId: typeof outputs.deploymentId === 'string' ? outputs.deploymentId : undefined,
        deploymentIds: strings(outputs.deploymentIds),
        status: typeof outputs.status === 'string' ? outputs.status : undefined,
        statistics: Object.fromEntries(Object.entries(stringMap(outputs.statistics)).map(([k, v]) => [k, Number(v)])),
        failedDevices: strings(outputs.failedDevices).sort(),
        outOfSync: strings(outputs.outOfSync).sort(),
      });
    } else if (type === 'DeviceConfiguration') {
      const device = typeof outputs.deviceId === 'string' ? outputs.deviceId : resourceName(resource.urn);
      snapshot.configurations[device] = configurationOf(outputs, {
        deploymentId: outputs.deploymentId,
        inSync: outputs.inSync,
        driftedKeys: outputs.driftedKeys,
      });
    } else if (type === 'DeviceConfigurationSet') {
      const devices = plainSecret(outputs.devices);
      const deploymentIds = stringMap(outputs.deploymentIds);
      const drifted = (outputs.drifted && typeof outputs.drifted === 'object' ? outputs.drifted : {}) as Record<string, unknown>;
      const failed = stringMap(outputs.failed);
      for (const [device, entry] of Object.entries(devices && typeof devices === 'object' ? (devices as Record<string, Record<string, unknown>>) : {})) {
        snapshot.configurations[device] = configurationOf(entry, {
          deploymentId: deploymentIds[device],
          inSync: !(device in drifted) && !(device in failed),
          driftedKeys: drifted[device],
        });
      }
    }
  }
  snapshot.deployments.sort((a, b) => a.artifactName.localeCompare(b.artifactName));
  // Without the devices output (a secrets provider this process cannot open), the deployments
  // still tell which device was meant to run which image.
  if (!devicesRead) {
    for (const d of snapshot.deployments) for (const id of d.devices) snapshot.devices[id] = { ring: snapshot.ring, desiredImage: d.artifactName };
  }
  return snapshot;
}

// ------------------------------------------------------------------ diffing

/** What changed on the fleet from one snapshot to the next (before: undefined for the first update). */
export function fleetChanges(before: FleetSnapshot | undefined, after: FleetSnapshot, kind = 'update'): FleetChange[] {
  const prev = before ?? { devices: {}, deployments: [], configurations: {} };
  const changes: FleetChange[] = [];
  const ids = [...new Set([...Object.keys(prev.devices), ...Object.keys(after.devices), ...Object.keys(prev.configurations), ...Object.keys(after.configurations)])].sort();

  for (const id of ids) {
    const was = prev.devices[id];
    const now = after.devices[id];
    if (!was && now) changes.push({ kind: 'device-added', device: id, ring: now.ring, image: now.desiredImage });
    else if (was && !now) changes.push({ kind: 'device-removed', device: id, image: was.desiredImage });
    else if (was && now && was.desiredImage !== now.desiredImage) changes.push({ kind: 'image', device: id, from: was.desiredImage, to: now.desiredImage });

    const oldConf = prev.configurations[id];
    const newConf = after.configurations[id];
    if (newConf) {
      const keys = differingKeys(oldConf?.values ?? {}, newConf.values);
      let secretKeys: string[] | null;
      if (!oldConf) secretKeys = newConf.secretDigests ? Object.keys(newConf.secretDigests).sort() : null;
      else if (oldConf.secretDigests && newConf.secretDigests) secretKeys = differingKeys(oldConf.secretDigests, newConf.secretDigests);
      else secretKeys = null;
      const hashChanged = (was?.configurationHash ?? null) !== (now?.configurationHash ?? null);
      if (!oldConf) {
        changes.push({ kind: 'configuration', device: id, keys, secretKeys, created: true });
      } else if (keys.length > 0 || (secretKeys !== null && secretKeys.length > 0) || (secretKeys === null && hashChanged)) {
        changes.push({ kind: 'configuration', device: id, keys, secretKeys });
      } else if (oldConf.deploymentId !== newConf.deploymentId && newConf.deploymentId) {
        changes.push({ kind: 'configuration-reapplied', device: id, secretsCompared: secretKeys !== null });
      }
      if (kind === 'refresh' && newConf.driftedKeys.length > 0) changes.push({ kind: 'drift-configuration', device: id, keys: newConf.driftedKeys });
    } else if (oldConf) {
      changes.push({ kind: 'configuration-removed', device: id });
    }
  }

  const previous = new Map(prev.deployments.map((d) => [d.artifactName, d]));
  for (const deployment of after.deployments) {
    const old = previous.get(deployment.artifactName);
    const isNew = deployment.deploymentId !== undefined && deployment.deploymentId !== old?.deploymentId;
    if (isNew && deployment.failedDevices.length > 0) {
      changes.push({ kind: 'deployment-failed', image: deployment.artifactName, devices: deployment.failedDevices, deploymentId: deployment.deploymentId });
    }
    // The same set got the same image once more: the devices that had drifted (known when a
    // refresh recorded them) were updated again.
    if (isNew && old && JSON.stringify(old.devices) === JSON.stringify(deployment.devices)) {
      const count = Object.values(deployment.statistics).reduce((sum, n) => sum + n, 0);
      changes.push({ kind: 'image-redeployed', image: deployment.artifactName, devices: old.outOfSync, count });
    }
    if (kind === 'refresh') {
      for (const device of deployment.outOfSync) changes.push({ kind: 'drift-image', device, image: deployment.artifactName });
    }
  }
  return changes;
}

// ------------------------------------------------------------------ entries

function gitOf(environment: Record<string, string> | undefined): GitInfo | null {
  if (!environment || !environment['git.head']) return null;
  return {
    sha: environment['git.head'],
    ref: environment['git.headName'],
    dirty: environment['git.dirty'] === 'true',
    author: environment['git.author'],
    authorEmail: environment['git.author.email'],
    committer: environment['git.committer'],
    committerEmail: environment['git.committer.email'],
  };
}

function ciOf(environment: Record<string, string> | undefined): Record<string, string> | null {
  const entries = Object.entries(environment ?? {}).filter(([k]) => k.startsWith('ci.') || k.startsWith('vcs.'));
  return entries.length > 0 ? Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b))) : null;
}

/** The overrides of the promotion gate recorded in the update's configuration (none when it is malformed). */
export function overridesOf(config: Record<string, string> | undefined): PromotionOverride[] {
  try {
    return promotionOverridesOf(config ?? {});
  } catch {
    return [];
  }
}

export interface AuditUpdate {
  info: UpdateInfo;
  /** undefined when the backend cannot give this update's checkpoint. */
  snapshot?: FleetSnapshot;
}

/**
 * The audit: one entry per update, oldest first, limited to versions from..to (inclusive). The
 * changes of an update are measured against the update before it, even when that one is
 * outside the range.
 */
export function auditEntries(updates: AuditUpdate[], range: { from?: number; to?: number } = {}): AuditEntry[] {
  const ordered = [...updates].sort((a, b) => a.info.version - b.info.version);
  const entries: AuditEntry[] = [];
  ordered.forEach((update, index) => {
    const { info } = update;
    if (range.from !== undefined && info.version < range.from) return;
    if (range.to !== undefined && info.version > range.to) return;
    const previous = index > 0 ? ordered[index - 1].snapshot : undefined;
    const previousKnown = index === 0 || previous !== undefined;
    entries.push({
      version: info.version,
      kind: info.kind,
      result: info.result,
      startTime: info.startTime,
      endTime: info.endTime,
      message: info.message,
      git: gitOf(info.environment),
      ci: ciOf(info.environment),
      promotionOverrides: overridesOf(info.config),
      changes: update.snapshot && previousKnown ? fleetChanges(previous, update.snapshot, info.kind) : null,
      resourceChanges: info.resourceChanges,
    });
  });
  return entries;
}

// ------------------------------------------------------------------ text

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
