// Mender's deployments service: deployments, the device deployments inside them, their
// status counters, and how a device is assigned an artifact when it asks for an update.
//
// Mirrors mender-server's backend/services/deployments (commit in spec/SOURCE.md):
// - CreateDeployment (app/app.go) stores the device list only; a device's record is made when
//   the device polls (getNewDeploymentForDevice) or when its deployments are aborted
//   (updateDeviceDeploymentsStatus). `device_count` counts those records.
// - Statistics start with pending = max_devices and change only by UpdateStatsInc on a device's
//   status update, except AbortDeployment, which rebuilds them from the existing records.
// - The stored status changes only when a device's status update changes Deployment.GetStatus
//   (model/deployment.go), or when AbortDeployment sets it to finished.
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

/** Deployment names longer than this are refused (pkg/rules/sizes.go: deploymentNameSize). */
export const MAX_DEPLOYMENT_NAME_LENGTH = 256;

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

const isActive = (dd: DeviceDeploymentRecord): boolean => !FINISHED_STATUSES.has(dd.status);

/** Notified when devices are targeted, so the simulation can schedule their next poll. */
export type WorkListener = (deviceIds: readonly string[]) => void;

export class DeploymentsService {
  /** Constructor fingerprints of unfinished deployments, for Mender's 409 on duplicates. */
  private readonly activeFingerprints = new Map<string, string>();
  /** Unfinished deployments, oldest first (FindNewerActiveDeployment sorts by created). */
  private readonly active: DeploymentRecord[] = [];
  /** Each deployment's device list as a set, for the per-poll membership test. */
  private readonly targets = new Map<string, Set<string>>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly baseUrl: () => string,
    private readonly onWork: WorkListener = () => undefined,
  ) {
    for (const d of [...store.deployments.values()].sort((a, b) => a.createdMs - b.createdMs)) {
      if (d.status !== 'finished') {
        this.active.push(d);
        this.activeFingerprints.set(this.fingerprintOf(d), d.id);
      }
    }
  }

  private fingerprintOf(d: DeploymentRecord): string {
    return JSON.stringify([d.type, d.name, d.artifactName, d.groups, d.forceInstallation, [...d.deviceList].sort()]);
  }

  private targetsOf(d: DeploymentRecord): Set<string> {
    let set = this.targets.get(d.id);
    if (!set) {
      set = new Set(d.deviceList);
      this.targets.set(d.id, set);
    }
    return set;
  }

  create(req: NewDeployment): string {
    // DeploymentConstructor.Validate (model/deployment.go) with rules.DeploymentName.
    if (!req.name) throw badRequest('Validating request body: name: cannot be blank.');
    if (req.name.length > MAX_DEPLOYMENT_NAME_LENGTH) {
      throw badRequest(`Validating request body: name: the length must be no more than ${MAX_DEPLOYMENT_NAME_LENGTH}.`);
    }
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
    const fingerprint = JSON.stringify(['software', req.name, req.artifactName, groups, req.forceInstallation, [...devices].sort()]);
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
      deviceList: devices,
    });
    return dep.id;
  }

  /**
   * The deployment the workflows service creates for a configuration deploy
   * (CreateDeviceConfigurationDeployment): one device, the id deviceconfig chose.
   */
  createConfiguration(deviceId: string, deploymentId: string, configuration: Record<string, string>): string {
    if (this.store.deployments.has(deploymentId)) throw conflict('Deployment with the same ID already exists');
    const groupOf = this.store.devices.get(deviceId)?.group;
    this.insert({
      id: deploymentId,
      name: `configuration-${deploymentId}`,
      artifactName: `configuration-${deploymentId}`,
      type: 'configuration',
      configuration: JSON.stringify(configuration),
      artifactIds: [],
      groups: groupOf !== undefined ? [groupOf] : [],
      forceInstallation: true,
      deviceList: [deviceId],
    });
    return deploymentId;
  }

  private insert(
    spec: Omit<DeploymentRecord, 'id' | 'created' | 'createdMs' | 'maxDevices' | 'deviceCount' | 'status' | 'stats'> & { id?: string },
  ): DeploymentRecord {
    const now = this.clock.now();
    const dep: DeploymentRecord = {
      ...spec,
      id: spec.id ?? newId(),
      created: new Date(now).toISOString(),
      createdMs: now,
      maxDevices: spec.deviceList.length,
      deviceCount: 0,
      status: 'pending',
      stats: zeroStats(),
    };
    dep.stats.pending = dep.maxDevices;
    this.store.deployments.set(dep.id, dep);
    this.active.push(dep);
    if (dep.type === 'software') this.activeFingerprints.set(this.fingerprintOf(dep), dep.id);
    this.onWork(dep.deviceList);
    return dep;
  }

  get(id: string): DeploymentRecord {
    const d = this.store.deployments.get(id);
    if (!d) throw notFound('Deployment not found');
    return d;
  }

  /** Deployment.IsFinished (model/deployment.go). */
  private computedFinished(d: DeploymentRecord): boolean {
    if (d.finished !== undefined) return true;
    let finished = 0;
    for (const s of FINISHED_STATUSES) finished += d.stats[s];
    return d.maxDevices > 0 && finished >= d.maxDevices;
  }

  /** Deployment.GetStatus (model/deployment.go). */
  private computedStatus(d: DeploymentRecord): DeploymentStatus {
    if (this.computedFinished(d)) return 'finished';
    const notPending = DEVICE_DEPLOYMENT_STATUSES.some((s) => s !== 'pending' && s !== 'decommissioned' && d.stats[s] > 0);
    return notPending ? 'inprogress' : 'pending';
  }

  isFinished(d: DeploymentRecord): boolean {
    return d.status === 'finished';
  }

  status(d: DeploymentRecord): DeploymentStatus {
    return d.status;
  }

  /** SetDeploymentStatus: the stored status, the finish time, and the active index. */
  private setStatus(d: DeploymentRecord, status: DeploymentStatus): void {
    d.status = status;
    if (status !== 'finished') return;
    d.finished ??= this.clock.iso();
    const i = this.active.indexOf(d);
    if (i >= 0) this.active.splice(i, 1);
    for (const [fp, id] of this.activeFingerprints) if (id === d.id) this.activeFingerprints.delete(fp);
  }

  /** The records of a deployment that are not hidden by a history deletion. */
  records(deploymentId: string): DeviceDeploymentRecord[] {
    return [...(this.store.deploymentDevices.get(deploymentId)?.values() ?? [])].filter((dd) => !dd.deleted);
  }

  private history(deviceId: string): DeviceDeploymentRecord[] {
    return (this.store.deviceHistory.get(deviceId) ?? []).filter((dd) => !dd.deleted);
  }

  /** FindOldestActiveDeviceDeployment (store/mongo/datastore_mongo.go). */
  private oldestActiveRecord(deviceId: string): DeviceDeploymentRecord | undefined {
    let found: DeviceDeploymentRecord | undefined;
    for (const dd of this.history(deviceId)) if (isActive(dd) && (!found || dd.created < found.created)) found = dd;
    return found;
  }

  /** The `created` of FindLatestInactiveDeviceDeployment, or the zero time. */
  private latestInactiveCreated(deviceId: string): string {
    let latest = '';
    for (const dd of this.history(deviceId)) if (!isActive(dd) && dd.created > latest) latest = dd.created;
    return latest;
  }

  /** FindNewerActiveDeployment: the oldest unfinished deployment created after `after` that lists the device. */
  private newerActiveDeployment(after: string, deviceId: string, skipFull: boolean): DeploymentRecord | undefined {
    for (const d of this.active) {
      if (d.created <= after || !this.targetsOf(d).has(deviceId)) continue;
      // getNewDeploymentForDevice skips a deployment whose records already reach max_devices.
      if (skipFull && d.maxDevices > 0 && d.deviceCount >= d.maxDevices) {
        after = d.created;
        continue;
      }
      return d;
    }
    return undefined;
  }

  /** createDeviceDeploymentWithStatus: the record's `created` is the deployment's. */
  private createRecord(dep: DeploymentRecord, deviceId: string, status: DeviceDeploymentStatus): DeviceDeploymentRecord {
    const existed = this.store.deploymentDevices.get(dep.id)?.has(deviceId) ?? false;
    const dd: DeviceDeploymentRecord = { id: newId(), deploymentId: dep.id, deviceId, status, created: dep.created };
    if (status !== 'pending') dd.started = this.clock.iso();
    if (FINISHED_STATUSES.has(status)) dd.finished = this.clock.iso();
    this.store.addDeviceDeployment(dd);
    if (!existed) dep.deviceCount++;
    return dd;
  }

  /** getDeploymentForDevice: the device's oldest active record, or a new one for its next deployment. */
  private deploymentForDevice(deviceId: string): { dep: DeploymentRecord; dd: DeviceDeploymentRecord } | undefined {
    const dd = this.oldestActiveRecord(deviceId);
    if (dd) {
      const dep = this.store.deployments.get(dd.deploymentId);
      return dep ? { dep, dd } : undefined;
    }
    const dep = this.newerActiveDeployment(this.latestInactiveCreated(deviceId), deviceId, true);
    return dep ? { dep, dd: this.createRecord(dep, deviceId, 'pending') } : undefined;
  }

  /**
   * PUT …/deployments/{id}/status {aborted} (AbortDeployment, app/app.go): 422 when the
   * deployment is unknown or finished (IsDeploymentFinished finds no unfinished one); every
   * active record becomes aborted; the statistics are rebuilt from the records that exist, so a
   * device that never polled is counted nowhere.
   */
  abort(id: string): void {
    const dep = this.store.deployments.get(id);
    if (!dep || this.isFinished(dep)) throw unprocessable('Deployment already finished');
    const now = this.clock.iso();
    const stats = zeroStats();
    for (const dd of this.records(id)) {
      if (isActive(dd)) {
        dd.status = 'aborted';
        dd.finished = now;
      }
      stats[dd.status]++;
    }
    dep.stats = stats;
    this.setStatus(dep, 'finished');
  }

  /**
   * DELETE …/deployments/devices/{id} (AbortDeviceDeployments → updateDeviceDeploymentsStatus,
   * app/app.go): aborts the device's oldest active record, then makes an `aborted` record in at
   * most one newer deployment that lists the device, without touching that deployment's
   * statistics, so it counts the device as pending for ever and can no longer finish by itself.
   */
  abortForDevice(deviceId: string): void {
    this.updateDeviceDeploymentsStatus(deviceId, 'aborted');
  }

  /**
   * The decommission_device workflow's call into deployments (DecommissionDevice, app/app.go):
   * the same updateDeviceDeploymentsStatus as an abort, with status `decommissioned`.
   */
  decommissionDevice(deviceId: string): void {
    this.updateDeviceDeploymentsStatus(deviceId, 'decommissioned');
  }

  private updateDeviceDeploymentsStatus(deviceId: string, status: 'aborted' | 'decommissioned'): void {
    let after: string;
    const dd = this.oldestActiveRecord(deviceId);
    if (dd) {
      const dep = this.store.deployments.get(dd.deploymentId);
      if (dep) this.transition(dep, dd, status);
      after = dd.created;
    } else {
      after = this.latestInactiveCreated(deviceId);
    }
    const newer = this.newerActiveDeployment(after, deviceId, false);
    if (newer) this.createRecord(newer, deviceId, status);
  }

  /** DELETE …/devices/{id}/history: finished records are marked deleted and no query sees them. */
  deleteHistory(deviceId: string): void {
    const now = this.clock.iso();
    for (const dd of this.history(deviceId)) if (!isActive(dd)) dd.deleted = now;
  }

  /**
   * A device's status update (updateDeviceDeploymentStatus): statistics move by one
   * (UpdateStatsInc), and the stored status follows GetStatus when it changes.
   */
  transition(dep: DeploymentRecord, dd: DeviceDeploymentRecord, status: DeviceDeploymentStatus, substate?: string): void {
    if (dd.status === status && substate === undefined) return;
    const now = this.clock.iso();
    const before = this.computedStatus(dep);
    const old = dd.status;
    if (old === 'pending' && !dd.started) dd.started = now;
    dd.status = status;
    if (substate !== undefined) dd.substate = substate;
    if (FINISHED_STATUSES.has(status)) dd.finished = now;
    if (old === status) return;
    dep.stats[old]--;
    dep.stats[status]++;
    const after = this.computedStatus(dep);
    if (after !== before) this.setStatus(dep, after);
  }

  /** Whether the device would get work on its next poll (nothing is recorded by asking). */
  hasWork(deviceId: string): boolean {
    if (this.oldestActiveRecord(deviceId)) return true;
    return this.newerActiveDeployment(this.latestInactiveCreated(deviceId), deviceId, true) !== undefined;
  }

  /**
   * `deployments/next` (GetDeploymentForDeviceWithCurrent, getDeploymentInstructions): the
   * instructions for the device's deployment, or undefined (204). A new record starts pending;
   * with no compatible artifact it ends `noartifact`, and a device that already runs the
   * artifact's name (isAlreadyInstalled: artifact_name only) ends `already-installed`.
   */
  next(deviceId: string, currentArtifact: string, deviceType: string): DeploymentInstructions | undefined {
    const cur = this.deploymentForDevice(deviceId);
    if (!cur) return undefined;
    const { dep, dd } = cur;
    dd.deviceType ??= deviceType;
    if (dep.type === 'software') {
      if (dd.artifactId === undefined) {
        const artifact = this.compatibleArtifact(dep, deviceType);
        if (!artifact) {
          this.transition(dep, dd, 'noartifact');
          return undefined;
        }
        dd.artifactId = artifact.id;
      }
      const artifact = this.store.artifacts.get(dd.artifactId);
      if (!dep.forceInstallation && dd.status === 'pending' && artifact && currentArtifact === artifact.name) {
        this.transition(dep, dd, 'already-installed');
        return undefined;
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
          id: dep.id + dd.deviceId,
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
        artifact_name: artifact?.name ?? dep.artifactName,
        source: { uri: `${this.baseUrl()}/__emulator/artifacts/${dd.artifactId}/download`, expire },
        device_types_compatible: artifact?.deviceTypes ?? [deviceType],
      },
    };
  }

  /** A device reports its status (device API PUT …/deployments/{id}/status). */
  report(deviceId: string, deploymentId: string, status: DeviceDeploymentStatus, substate?: string): void {
    const dep = this.store.deployments.get(deploymentId);
    const dd = this.store.deploymentDevices.get(deploymentId)?.get(deviceId);
    if (!dep || !dd || dd.deleted) throw notFound('Deployment not found');
    if (dd.status === 'aborted') throw new MenderError(409, 'Deployment aborted');
    if (dd.status === 'decommissioned') throw new MenderError(409, 'Device decommissioned');
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
      if (q.status && d.status !== q.status) continue;
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
    return this.active.some((d) => d.artifactIds.includes(artifactId));
  }
}
