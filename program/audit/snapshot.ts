// The audit's second input: the deployment (`pulumi stack export`) each update left, reduced to
// what the audit compares (devices, images, configurations). Secret values arrive as the engine
// opened them (`--show-secrets`, or cli/checkpoint-secrets.ts) and snapshotOf turns them into
// digests at once; a secret still sealed counts as unreadable. Nothing here keeps a value.
import { createHash, randomBytes } from 'node:crypto';
import { specialSecretSig, specialSigKey } from '@pulumi/pulumi/runtime/rpc';
import type { Health } from '../../shared/health';
import type { DeviceSummary } from '../pipeline/declare';
import type { RolloutProgress } from '../../provider/rollout/progress';

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
  /** Where its rollout stood after the update (absent in stacks applied before waves). */
  progress?: RolloutProgress;
}

export interface SnapshotConfiguration {
  values: Record<string, string>;
  /** Secret key → digest of its value (never the value); undefined when it could not be read. */
  secretDigests?: Record<string, string>;
  deploymentId?: string;
  /** The device's configuration health as the resource recorded it (its last apply or read); undefined when its outputs do not tell. */
  health?: Health;
  /** Keys whose reported or configured value differed from Git at the resource's last read. */
  driftedKeys: string[];
}

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

/**
 * What a configuration resource recorded of one device, in the health vocabulary: keys its last
 * read found differing from Git (the provider's read counts a configuration the device has not
 * reported among them), else a failed apply, else whether Mender held and the device reported
 * Git's (`inSync`; a set records only drift and failures per device).
 */
function recordedHealth(driftedKeys: readonly string[], failed: boolean, inSync: boolean | undefined): Health | undefined {
  if (driftedKeys.length > 0) return 'drifted';
  if (failed) return 'failed';
  if (inSync === undefined) return undefined;
  return inSync ? 'in sync' : 'pending';
}

/** One device's configuration from a resource's outputs (`values`, `secretValues`), secrets only as digests. */
function configurationOf(
  entry: Record<string, unknown>,
  status: { deploymentId: unknown; inSync: unknown; driftedKeys: unknown; failed: boolean },
): SnapshotConfiguration {
  const secrets = plainSecret(entry.secretValues);
  const secretDigests = secrets === undefined || secrets === null ? undefined : Object.fromEntries(Object.entries(stringMap(secrets)).map(([k, v]) => [k, secretDigest(k, v)]));
  const driftedKeys = strings(status.driftedKeys).sort();
  return {
    values: stringMap(plainSecret(entry.values)),
    secretDigests: entry.secretValues === undefined ? {} : secretDigests,
    deploymentId: typeof status.deploymentId === 'string' ? status.deploymentId : undefined,
    health: recordedHealth(driftedKeys, status.failed, typeof status.inSync === 'boolean' ? status.inSync : undefined),
    driftedKeys,
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
        ...(outputs.progress && typeof outputs.progress === 'object' && Array.isArray((outputs.progress as RolloutProgress).waves) ? { progress: outputs.progress as RolloutProgress } : {}),
      });
    } else if (type === 'DeviceConfiguration') {
      const device = typeof outputs.deviceId === 'string' ? outputs.deviceId : resourceName(resource.urn);
      snapshot.configurations[device] = configurationOf(outputs, {
        deploymentId: outputs.deploymentId,
        inSync: outputs.inSync,
        driftedKeys: outputs.driftedKeys,
        // A failed DeviceConfiguration is not recorded: its apply throws before any output.
        failed: false,
      });
    } else if (type === 'DeviceConfigurationSet') {
      const devices = plainSecret(outputs.devices);
      const deploymentIds = stringMap(outputs.deploymentIds);
      const drifted = (outputs.drifted && typeof outputs.drifted === 'object' ? outputs.drifted : {}) as Record<string, unknown>;
      const failed = stringMap(outputs.failed);
      for (const [device, entry] of Object.entries(devices && typeof devices === 'object' ? (devices as Record<string, Record<string, unknown>>) : {})) {
        snapshot.configurations[device] = configurationOf(entry, {
          deploymentId: deploymentIds[device],
          inSync: true,
          driftedKeys: drifted[device],
          failed: device in failed,
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
