// Mender's deployments service: deployments, the device deployments inside them, their
// status counters, and how a device is assigned an artifact when it asks for an update.
import { Clock } from './clock';
import { badRequest, conflict, MenderError, notFound, unprocessable } from './errors';
import { newId } from './ids';
import { Store } from './store';
import {
  ArtifactRecord,
  DEVICE_DEPLOYMENT_STATUSES,
  DeploymentLogMessage,
  DeploymentRecord,
  DeploymentStatus,
  DeviceDeploymentRecord,
  DeviceDeploymentStatus,
  FINISHED_STATUSES,
  FilterPredicate,
} from './types';

export interface NewDeployment {
  name: string;
  artifactName: string;
  devices: string[];
  group?: string;
  allDevices: boolean;
  forceInstallation: boolean;
}

export interface DeploymentInstructions {
  id: string;
  artifact: {
    id: string;
    artifact_name: string;
    source: { uri: string; expire: string };
    device_types_compatible: string[];
  };
}

function zeroStats(): Record<DeviceDeploymentStatus, number> {
  const s = {} as Record<DeviceDeploymentStatus, number>;
  for (const k of DEVICE_DEPLOYMENT_STATUSES) s[k] = 0;
  return s;
}

/** Notified when a device gets work, so the simulation can schedule its next poll. */
export type WorkListener = (deviceIds: readonly string[]) => void;

export class DeploymentsService {
  /** Constructor fingerprints of unfinished deployments, for Mender's 409 on duplicates. */
  private readonly activeFingerprints = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly baseUrl: () => string,
    private readonly onWork: WorkListener = () => undefined,
  ) {
    for (const d of store.deployments.values()) {
      if (!this.isFinished(d)) this.activeFingerprints.set(this.fingerprintOf(d), d.id);
    }
  }

  private fingerprintOf(d: DeploymentRecord): string {
    const devices = [...(this.store.deploymentDevices.get(d.id)?.keys() ?? [])].sort();
    return JSON.stringify([d.type, d.name, d.artifactName, d.groups, d.forceInstallation, devices]);
  }

  create(req: NewDeployment): string {
    if (!req.name) throw badRequest('Validating request body: name: cannot be blank.');
    if (!req.artifactName) throw badRequest('Validating request body: artifact_name: cannot be blank.');
    if (req.devices.some((d) => d === '')) throw badRequest('Validating request body: devices: (0: cannot be blank.).');
    if (req.group === undefined) {
      if (req.devices.length === 0 && !req.allDevices) {
        throw badRequest(
          'Validating request body: Invalid deployments definition: provide list of devices or set all_devices flag',
        );
      }
      if (req.devices.length > 0 && req.allDevices) {
        throw badRequest(
          'Validating request body: Invalid deployments definition: list of devices provided togheter with all_devices flag',
        );
      }
    }
    let devices = req.devices;
    let filter: FilterPredicate[] | undefined;
    if (req.group !== undefined) {
      devices = [];
      for (const d of this.store.devices.values()) if (d.group === req.group) devices.push(d.id);
      filter = [{ scope: 'system', attribute: 'group', type: '$eq', value: req.group }];
    } else if (req.allDevices) {
      devices = [];
      for (const d of this.store.devices.values()) if (d.identity.status === 'accepted') devices.push(d.id);
      filter = [{ scope: 'identity', attribute: 'status', type: '$eq', value: 'accepted' }];
    }
    devices = [...new Set(devices)];
    if (devices.length === 0) throw badRequest('No devices for the deployment');
    const artifacts = this.store.artifactsByName(req.artifactName);
    if (artifacts.length === 0) throw unprocessable('No artifact for the deployment');

    const groups =
      req.group !== undefined
        ? [req.group]
        : devices.length === 1 && this.store.devices.get(devices[0])?.group !== undefined
          ? [this.store.devices.get(devices[0])!.group!]
          : [];
    const fingerprint = JSON.stringify([
      'software',
      req.name,
      req.artifactName,
      groups,
      req.forceInstallation,
      [...devices].sort(),
    ]);
    if (this.activeFingerprints.has(fingerprint)) {
      throw conflict('Invalid deployment definition: there is already an active deployment with the same parameters');
    }
    const dep = this.insert({
      name: req.name,
      artifactName: req.artifactName,
      type: 'software',
      artifactIds: artifacts.map((a) => a.id),
      groups,
      forceInstallation: req.forceInstallation,
      filter,
      devices,
    });
    this.activeFingerprints.set(fingerprint, dep.id);
    return dep.id;
  }

  createConfiguration(deviceId: string, configuration: Record<string, string>): string {
    const id = newId();
    const groupOf = this.store.devices.get(deviceId)?.group;
    this.insert({
      id,
      name: `configuration-${id}`,
      artifactName: `configuration-${id}`,
      type: 'configuration',
      configuration: JSON.stringify(configuration),
      artifactIds: [],
      groups: groupOf !== undefined ? [groupOf] : [],
      forceInstallation: true,
      devices: [deviceId],
    });
    return id;
  }

  private insert(
    spec: Omit<DeploymentRecord, 'id' | 'created' | 'createdMs' | 'maxDevices' | 'stats'> & {
      id?: string;
      devices: string[];
    },
  ): DeploymentRecord {
    const { devices, ...rest } = spec;
    const now = this.clock.now();
    const created = new Date(now).toISOString();
    const dep: DeploymentRecord = {
      ...rest,
      id: spec.id ?? newId(),
      created,
      createdMs: now,
      maxDevices: devices.length,
      stats: zeroStats(),
    };
    dep.stats.pending = devices.length;
    this.store.deployments.set(dep.id, dep);
    for (const deviceId of devices) {
      this.store.addDeviceDeployment({ id: newId(), deploymentId: dep.id, deviceId, status: 'pending', created });
    }
    this.onWork(devices);
    return dep;
  }

  get(id: string): DeploymentRecord {
    const d = this.store.deployments.get(id);
    if (!d) throw notFound('Deployment not found');
    return d;
  }

  isFinished(d: DeploymentRecord): boolean {
    let finished = 0;
    for (const s of FINISHED_STATUSES) finished += d.stats[s];
    return finished >= d.maxDevices;
  }

  status(d: DeploymentRecord): DeploymentStatus {
    if (this.isFinished(d)) return 'finished';
    return d.stats.pending === d.maxDevices ? 'pending' : 'inprogress';
  }

  abort(id: string): void {
    const dep = this.get(id);
    if (this.isFinished(dep)) throw unprocessable('Deployment already finished');
    for (const dd of this.store.deploymentDevices.get(id)?.values() ?? []) {
      if (!FINISHED_STATUSES.has(dd.status)) this.transition(dep, dd, 'aborted');
    }
  }

  /** Aborts every unfinished deployment of a device (DELETE …/deployments/devices/{id}). */
  abortForDevice(deviceId: string): void {
    for (const dd of this.store.deviceHistory.get(deviceId) ?? []) {
      if (FINISHED_STATUSES.has(dd.status)) continue;
      const dep = this.store.deployments.get(dd.deploymentId);
      if (dep) this.transition(dep, dd, 'aborted');
    }
  }

  /** Sets a device deployment's status, keeping counters and finish times right. */
  transition(dep: DeploymentRecord, dd: DeviceDeploymentRecord, status: DeviceDeploymentStatus, substate?: string): void {
    if (dd.status === status && substate === undefined) return;
    const now = this.clock.iso();
    dep.stats[dd.status]--;
    dep.stats[status]++;
    if (dd.status === 'pending' && !dd.started) dd.started = now;
    dd.status = status;
    if (substate !== undefined) dd.substate = substate;
    if (FINISHED_STATUSES.has(status)) {
      dd.finished = now;
      if (this.isFinished(dep)) {
        dep.finished = now;
        for (const [fp, id] of this.activeFingerprints) if (id === dep.id) this.activeFingerprints.delete(fp);
      }
    }
  }

  /** The device deployment a device works on now: its oldest unfinished one (Mender's rule). */
  current(deviceId: string): { dep: DeploymentRecord; dd: DeviceDeploymentRecord } | undefined {
    for (const dd of this.store.deviceHistory.get(deviceId) ?? []) {
      if (FINISHED_STATUSES.has(dd.status)) continue;
      const dep = this.store.deployments.get(dd.deploymentId);
      if (dep) return { dep, dd };
    }
    return undefined;
  }

  hasWork(deviceId: string): boolean {
    return this.current(deviceId) !== undefined;
  }

  /**
   * `deployments/next`: the instructions for the device's current deployment, or undefined
   * (204). Decides `already-installed` and `noartifact` the way Mender does, on first contact.
   */
  next(deviceId: string, currentArtifact: string, deviceType: string): DeploymentInstructions | undefined {
    const cur = this.current(deviceId);
    if (!cur) return undefined;
    const { dep, dd } = cur;
    if (dd.status === 'pending' && dd.deviceType === undefined) {
      dd.deviceType = deviceType;
      if (dep.type === 'software') {
        if (!dep.forceInstallation && currentArtifact === dep.artifactName) {
          this.transition(dep, dd, 'already-installed');
          return undefined;
        }
        const artifact = this.compatibleArtifact(dep, deviceType);
        if (!artifact) {
          this.transition(dep, dd, 'noartifact');
          return undefined;
        }
        dd.artifactId = artifact.id;
      }
    }
    return this.instructions(dep, dd, deviceType);
  }

  private compatibleArtifact(dep: DeploymentRecord, deviceType: string): ArtifactRecord | undefined {
    for (const id of dep.artifactIds) {
      const a = this.store.artifacts.get(id);
      if (a && a.deviceTypes.includes(deviceType)) return a;
    }
    // Artifacts uploaded after the deployment was created join it, as in Mender.
    return this.store.artifactsByName(dep.artifactName).find((a) => a.deviceTypes.includes(deviceType));
  }

  private instructions(dep: DeploymentRecord, dd: DeviceDeploymentRecord, deviceType: string): DeploymentInstructions {
    const expire = new Date(this.clock.now() + 24 * 3600 * 1000).toISOString();
    if (dep.type === 'configuration') {
      const uri =
        `${this.baseUrl()}/api/devices/v1/deployments/download/configuration/${dep.id}/` +
        `${encodeURIComponent(deviceType)}/${dd.deviceId}?x-men-expire=${encodeURIComponent(expire)}&x-men-signature=emulator`;
      return {
        id: dep.id,
        artifact: {
          id: dep.id,
          artifact_name: dep.artifactName,
          source: { uri, expire },
          device_types_compatible: [deviceType],
        },
      };
    }
    const artifact = this.store.artifacts.get(dd.artifactId ?? '');
    return {
      id: dep.id,
      artifact: {
        id: dd.artifactId ?? '',
        artifact_name: dep.artifactName,
        source: { uri: `${this.baseUrl()}/__emulator/artifacts/${dd.artifactId}/download`, expire },
        device_types_compatible: artifact?.deviceTypes ?? [deviceType],
      },
    };
  }

  /** A device reports its status (device API PUT …/deployments/{id}/status). */
  report(deviceId: string, deploymentId: string, status: DeviceDeploymentStatus, substate?: string): void {
    const dep = this.store.deployments.get(deploymentId);
    const dd = this.store.deploymentDevices.get(deploymentId)?.get(deviceId);
    if (!dep || !dd) throw notFound('Deployment not found');
    if (dd.status === 'aborted') throw new MenderError(409, 'Deployment aborted');
    if (FINISHED_STATUSES.has(dd.status) && dd.status !== status) {
      throw badRequest(`device deployment already finished with status ${dd.status}`);
    }
    this.transition(dep, dd, status, substate);
  }

  putLog(deviceId: string, deploymentId: string, messages: DeploymentLogMessage[]): void {
    const dd = this.store.deploymentDevices.get(deploymentId)?.get(deviceId);
    if (!dd) throw notFound('Deployment not found');
    dd.log = messages;
  }

  /** Deployments matching Mender's list filters, newest first unless asked otherwise. */
  list(q: {
    status?: DeploymentStatus;
    type?: string;
    search?: string;
    ids?: string[];
    names?: string[];
    createdBefore?: number;
    createdAfter?: number;
    sort?: 'asc' | 'desc';
  }): DeploymentRecord[] {
    const out: DeploymentRecord[] = [];
    for (const d of this.store.deployments.values()) {
      if (q.status && this.status(d) !== q.status) continue;
      if (q.type && d.type !== q.type) continue;
      if (q.search && !d.name.includes(q.search) && d.id !== q.search) continue;
      if (q.ids && q.ids.length && !q.ids.includes(d.id)) continue;
      if (q.names && q.names.length && !q.names.includes(d.name)) continue;
      const secs = Math.floor(d.createdMs / 1000);
      if (q.createdBefore !== undefined && secs > q.createdBefore) continue;
      if (q.createdAfter !== undefined && secs < q.createdAfter) continue;
      out.push(d);
    }
    out.sort((a, b) => (q.sort === 'asc' ? a.createdMs - b.createdMs : b.createdMs - a.createdMs));
    return out;
  }

  isArtifactInActiveDeployment(artifactId: string): boolean {
    for (const d of this.store.deployments.values()) {
      if (d.artifactIds.includes(artifactId) && !this.isFinished(d)) return true;
    }
    return false;
  }
}
