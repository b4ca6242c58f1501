// All server state, indexed for the lookups the API needs (by id, by device, by deployment),
// and its snapshot form for the state file.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArtifact } from './artifact-file';
import { sha256Hex, stableId } from './ids';
import {
  ArtifactRecord,
  AuthSetRecord,
  DeploymentRecord,
  DeviceConfigRecord,
  DeviceDeploymentRecord,
  DeviceRecord,
  type AttributeValue,
} from './types';
import { WorldError, type World } from './world';
import type { DeployConfigurationJob } from './workflows';

export class Store {
  readonly devices = new Map<string, DeviceRecord>();
  readonly artifacts = new Map<string, ArtifactRecord>();
  /** Bytes of uploaded .mender files, by artifact id. */
  readonly artifactFiles = new Map<string, Buffer>();
  readonly deployments = new Map<string, DeploymentRecord>();
  /** Device deployments of each deployment, by deployment id then device id. */
  readonly deploymentDevices = new Map<string, Map<string, DeviceDeploymentRecord>>();
  /** Device deployments of each device, oldest first. */
  readonly deviceHistory = new Map<string, DeviceDeploymentRecord[]>();
  readonly configs = new Map<string, DeviceConfigRecord>();
  /** deviceauth's authentication sets, by id. */
  readonly authSets = new Map<string, AuthSetRecord>();
  /**
   * Device tokens in force, by their `jti` (the id of the accepted auth set they were issued
   * for, as SubmitAuthRequest makes them); rejecting or removing the set revokes the token.
   */
  readonly deviceTokens = new Set<string>();
  /** Workflows published and not yet run by the worker. */
  workflowJobs: DeployConfigurationJob[] = [];
  readonly tokens = new Set<string>();
  readonly users = new Map<string, string>();
  jwtSecret = randomBytes(32).toString('hex');

  addDeviceDeployment(dd: DeviceDeploymentRecord): void {
    let perDeployment = this.deploymentDevices.get(dd.deploymentId);
    if (!perDeployment) {
      perDeployment = new Map();
      this.deploymentDevices.set(dd.deploymentId, perDeployment);
    }
    perDeployment.set(dd.deviceId, dd);
    let history = this.deviceHistory.get(dd.deviceId);
    if (!history) {
      history = [];
      this.deviceHistory.set(dd.deviceId, history);
    }
    history.push(dd);
  }

  artifactsByName(name: string): ArtifactRecord[] {
    const out: ArtifactRecord[] = [];
    for (const a of this.artifacts.values()) if (a.name === name) out.push(a);
    return out;
  }

  snapshot(): Snapshot {
    return {
      version: 2,
      jwtSecret: this.jwtSecret,
      tokens: [...this.tokens],
      users: [...this.users].map(([email, password]) => ({ email, password })),
      devices: [...this.devices.values()],
      artifacts: [...this.artifacts.values()],
      deployments: [...this.deployments.values()],
      deviceDeployments: [...this.deviceHistory.values()].flat(),
      configs: [...this.configs.values()],
      workflowJobs: this.workflowJobs,
      authSets: [...this.authSets.values()],
      deviceTokens: [...this.deviceTokens],
    };
  }

  static fromSnapshot(s: Snapshot, files: Map<string, Buffer>): Store {
    const store = new Store();
    store.jwtSecret = s.jwtSecret;
    s.tokens.forEach((t) => store.tokens.add(t));
    s.users.forEach((u) => store.users.set(u.email, u.password));
    s.devices.forEach((d) => store.devices.set(d.id, d));
    s.artifacts.forEach((a) => store.artifacts.set(a.id, a));
    s.deployments.forEach((d) => store.deployments.set(d.id, d));
    // Restore oldest first so each device's history keeps its order.
    [...s.deviceDeployments]
      .sort((a, b) => a.created.localeCompare(b.created))
      .forEach((dd) => store.addDeviceDeployment(dd));
    s.configs.forEach((c) => store.configs.set(c.id, c));
    store.workflowJobs = [...s.workflowJobs];
    // A state file written before deviceauth was emulated has neither: its devices are then
    // matched by their identity scope, as world devices are.
    if (s.authSets) s.authSets.forEach((a) => store.authSets.set(a.id, a));
    else for (const d of store.devices.values()) if (d.identity.status === 'accepted') store.authSets.set(worldAuthSet(d, d.createdTs).id, worldAuthSet(d, d.createdTs));
    (s.deviceTokens ?? []).forEach((t) => store.deviceTokens.add(t));
    for (const [id, buf] of files) store.artifactFiles.set(id, buf);
    return store;
  }
}

export interface Snapshot {
  /** 2 since device deployments are made lazily (deployments carry their device list). */
  version: 2;
  jwtSecret: string;
  tokens: string[];
  users: { email: string; password: string }[];
  devices: DeviceRecord[];
  artifacts: ArtifactRecord[];
  deployments: DeploymentRecord[];
  deviceDeployments: DeviceDeploymentRecord[];
  configs: DeviceConfigRecord[];
  workflowJobs: DeployConfigurationJob[];
  authSets?: AuthSetRecord[];
  deviceTokens?: string[];
}

/**
 * JSON with object keys sorted at every level: deviceauth's form of identity data
 * (AuthReq.Validate runs utils.JsonSort on id_data; the preauthorize handler marshals a Go map,
 * which sorts too), so two requests with the same identity match whatever their key order.
 */
export function sortedJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return JSON.stringify(sort(value));
}

/** The identity data of a device: its identity scope without `status`, which deviceauth owns. */
export function identityDataOf(d: DeviceRecord): string {
  if (d.idData !== undefined) return d.idData;
  const rest: Record<string, AttributeValue> = { ...d.identity };
  delete rest.status;
  return sortedJson(rest);
}

/**
 * The accepted auth set a world device is taken to hold. The world names no key, so the set
 * has none until the first auth request with the device's identity brings one: the world
 * accepted the device, as an operator would have.
 */
export function worldAuthSet(d: DeviceRecord, ts: string): AuthSetRecord {
  return { id: stableId(`authset:${d.id}`), deviceId: d.id, idData: identityDataOf(d), pubkey: '', status: 'accepted', ts };
}

/** A MAC address derived from the device id, so identity data is stable. */
function macFor(id: string): string {
  const h = sha256Hex(id);
  // Locally administered, unicast.
  const bytes = [0x02, ...[0, 1, 2, 3, 4].map((i) => parseInt(h.slice(i * 2, i * 2 + 2), 16))];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Metadata for an artifact named in the world file, which has no file behind it. */
export function worldArtifact(
  name: string,
  deviceTypes: string[],
  description: string,
  modified: string,
  provides: Record<string, string> = {},
): ArtifactRecord {
  const key = `${name}\0${[...deviceTypes].sort().join(',')}`;
  const checksum = sha256Hex(`rootfs:${key}`);
  const size = 1024 * 1024 * (16 + (parseInt(checksum.slice(0, 4), 16) % 48));
  return {
    id: stableId(`artifact:${key}`),
    name,
    description,
    deviceTypes: [...deviceTypes],
    info: { format: 'mender', version: 3 },
    signed: false,
    updates: [
      {
        type_info: { type: 'rootfs-image' },
        files: [{ name: `${name}.ext4`, checksum, size, date: modified }],
        metadata: {},
      },
    ],
    provides: { 'rootfs-image.checksum': checksum, 'rootfs-image.version': name, ...provides, artifact_name: name },
    depends: { device_type: [...deviceTypes] },
    clearsProvides: ['artifact_group', 'rootfs_image_checksum', 'rootfs-image.*'],
    size: size + 10240,
    modified,
    checksum: sha256Hex(`artifact:${key}`),
    uploaded: false,
  };
}

export function seedStore(world: World, nowIso: string): Store {
  const store = new Store();
  world.tokens.forEach((t) => store.tokens.add(t));
  world.users.forEach((u) => store.users.set(u.email, u.password));
  for (const a of world.artifacts) {
    const art = worldArtifact(a.name, a.device_types, a.description ?? '', nowIso, a.provides);
    store.artifacts.set(art.id, art);
  }
  const providedVersion = (artifactName: string): string | undefined =>
    world.artifacts.find((a) => a.name === artifactName)?.provides?.['rootfs-image.version'];
  for (const d of world.devices) {
    store.devices.set(d.id, {
      id: d.id,
      identity: { mac: macFor(d.id), ...d.identity, status: 'accepted' },
      inventory: {
        ...d.attributes,
        device_type: d.device_type,
        artifact_name: d.artifact_name,
        'rootfs-image.version': d.attributes?.['rootfs-image.version'] ?? providedVersion(d.artifact_name) ?? d.artifact_name,
      },
      tags: {},
      group: d.group,
      ...(d.deviceconfig_provisioned === false ? { deviceconfigProvisioned: false } : {}),
      ...(d.real_client ? { external: true } : {}),
      createdTs: nowIso,
      updatedTs: nowIso,
      behavior: { ...d.behavior },
    });
  }
  for (const d of store.devices.values()) {
    const set = worldAuthSet(d, nowIso);
    store.authSets.set(set.id, set);
  }
  return store;
}

/**
 * Puts the `.mender` file of each world artifact that names one behind its record, read as an
 * upload is (the record takes the file's provides, payloads and checksums, and keeps its id).
 */
export async function attachWorldArtifactFiles(store: Store, world: World): Promise<void> {
  for (const a of world.artifacts) {
    if (!a.file) continue;
    const where = `world artifact ${a.name}: ${a.file}`;
    let buf: Buffer;
    try {
      buf = await readFile(a.file);
    } catch (err) {
      throw new WorldError(`${where}: cannot read: ${(err as Error).message}`);
    }
    let parsed;
    try {
      parsed = await parseArtifact(buf);
    } catch (err) {
      throw new WorldError(`${where}: not a Mender artifact: ${(err as Error).message}`);
    }
    const sameTypes = [...parsed.deviceTypes].sort().join(',') === [...a.device_types].sort().join(',');
    if (parsed.name !== a.name || !sameTypes) {
      throw new WorldError(`${where}: the file is ${parsed.name} for [${parsed.deviceTypes.join(', ')}], the world says ${a.name} for [${a.device_types.join(', ')}]`);
    }
    const record = [...store.artifacts.values()].find((r) => r.name === a.name && [...r.deviceTypes].sort().join(',') === [...a.device_types].sort().join(','));
    if (!record) continue;
    Object.assign(record, {
      info: { format: 'mender', version: parsed.version },
      signed: parsed.signed,
      updates: parsed.updates,
      provides: parsed.provides,
      depends: parsed.depends,
      clearsProvides: parsed.clearsProvides,
      size: buf.length,
      checksum: sha256Hex(buf),
      uploaded: true,
    });
    store.artifactFiles.set(record.id, buf);
  }
}
