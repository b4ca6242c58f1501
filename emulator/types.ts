// The emulator's domain model, named as Mender names things.

/** Value of an inventory attribute, as Mender's inventory service stores it. */
export type AttributeValue = string | number | boolean | string[] | number[];

export type Scope = 'identity' | 'inventory' | 'system' | 'tags' | 'monitor';

/** Test-only device behaviour: how a simulated device misbehaves. */
export interface Behavior {
  /** Artifact names whose installation fails (the device keeps its old artifact). */
  fail_install?: string[];
  /**
   * Artifact names the device downloads, installs and reboots into, and then rolls back from by
   * itself (the new image did not boot): Mender sees downloading, installing, rebooting, then
   * failure, and the device keeps its old artifact_name and rootfs-image.version.
   */
  rollback_after_reboot?: string[];
  /** Never polls the server (not even after the clock is advanced): its deployments stay pending. */
  offline?: boolean;
  /** Polls and every deployment step take `Timing.slowFactor` times longer. */
  slow?: boolean;
  /**
   * Simulated milliseconds between two polls of `deployments/next` by this device, instead of
   * `Timing.pollIntervalMs` (not multiplied by `slowFactor`); also bounds its first poll's jitter.
   */
  poll_interval_ms?: number;
  /** Configuration deployments fail instead of being applied. */
  reject_config?: boolean;
  /**
   * Simulated milliseconds after the emulator starts before the device polls for the first
   * time (a device still booting, or one whose poll interval has not come round yet).
   */
  first_poll_after_ms?: number;
}

/** Simulated device timing, in milliseconds of simulated time. */
export interface Timing {
  /** How often a device asks `deployments/next` while it has work. */
  pollIntervalMs: number;
  /** Duration of each step: downloading, installing, rebooting. */
  stepMs: number;
  /** Multiplier applied to pollIntervalMs and stepMs for `slow` devices. */
  slowFactor: number;
  /** Real-time period of the simulation loop. */
  tickMs: number;
  /**
   * Delay of Mender's workflows service: how long after `deviceconfig …/deploy` answers the
   * configuration deployment exists in the deployments service.
   */
  workflowDelayMs: number;
  /** Simulated milliseconds per real millisecond (1: real time; 1000: a 30 s poll takes 30 ms). */
  speed: number;
}

export const FAST_TIMING: Timing = { pollIntervalMs: 30, stepMs: 20, slowFactor: 10, tickMs: 10, workflowDelayMs: 40, speed: 1 };

export type DeviceAuthStatus = 'accepted' | 'pending' | 'rejected' | 'preauthorized' | 'noauth';

export interface DeviceRecord {
  id: string;
  identity: Record<string, AttributeValue>;
  inventory: Record<string, AttributeValue>;
  tags: Record<string, AttributeValue>;
  group?: string;
  /**
   * False for a device deviceconfig never provisioned (accepted before the service ran): it has
   * no configuration record until it reports one.
   */
  deviceconfigProvisioned?: boolean;
  createdTs: string;
  updatedTs: string;
  behavior: Behavior;
  /**
   * deviceauth's identity data: the device's identity as sorted JSON, the key its auth requests
   * are matched by (AuthReq.Validate sorts id_data). Absent for world devices made before
   * auth sets existed; their identity scope (without `status`) stands for it.
   */
  idData?: string;
  /** Set by decommissioning (DecommissionDevice): no token is issued any more. */
  decommissioning?: boolean;
  /** When deviceauth last issued the device a token (updateCheckInTime). */
  checkInTime?: string;
  /**
   * The device is played by a client outside the emulator (a real `mender` daemon), so the
   * simulation never plays it: deviceauth recorded it (an auth request or a preauthorization),
   * or a client authenticated as the world device.
   */
  external?: boolean;
}

/** The status of one authentication set (deviceauth model/device.go: DevStatus*). */
export type AuthSetStatus = 'pending' | 'accepted' | 'rejected' | 'preauthorized';

/** deviceauth's AuthSet (model/authset.go): one identity and public key a device presented. */
export interface AuthSetRecord {
  id: string;
  deviceId: string;
  /** The identity as sorted JSON (the real server keys auth sets by its hash). */
  idData: string;
  /**
   * PEM "PUBLIC KEY" (SPKI) as deviceauth normalises it; empty for a world device's seeded set,
   * which takes the key of the first auth request with the device's identity.
   */
  pubkey: string;
  status: AuthSetStatus;
  ts: string;
}

export interface UpdateFile {
  name: string;
  checksum: string;
  size: number;
  date?: string;
}

export interface ArtifactUpdate {
  type_info: { type: string };
  files: UpdateFile[];
  metadata?: Record<string, string>;
}

export interface ArtifactRecord {
  id: string;
  name: string;
  description: string;
  deviceTypes: string[];
  info: { format: string; version: number };
  signed: boolean;
  updates: ArtifactUpdate[];
  provides: Record<string, string>;
  depends: Record<string, string[]>;
  clearsProvides: string[];
  size: number;
  modified: string;
  /** sha256 of the whole .mender file (uploaded) or a synthetic one (world artifacts). */
  checksum: string;
  /** True when the artifact came from an uploaded .mender file. */
  uploaded: boolean;
}

/** Per-device status within a deployment (Mender's DeviceDeploymentStatus). */
export type DeviceDeploymentStatus =
  | 'failure'
  | 'aborted'
  | 'pause_before_installing'
  | 'pause_before_committing'
  | 'pause_before_rebooting'
  | 'downloading'
  | 'installing'
  | 'rebooting'
  | 'pending'
  | 'success'
  | 'noartifact'
  | 'already-installed'
  | 'decommissioned';

export const DEVICE_DEPLOYMENT_STATUSES: readonly DeviceDeploymentStatus[] = [
  'failure',
  'aborted',
  'pause_before_installing',
  'pause_before_committing',
  'pause_before_rebooting',
  'downloading',
  'installing',
  'rebooting',
  'pending',
  'success',
  'noartifact',
  'already-installed',
  'decommissioned',
];

export const FINISHED_STATUSES: ReadonlySet<DeviceDeploymentStatus> = new Set<DeviceDeploymentStatus>([
  'failure',
  'aborted',
  'success',
  'noartifact',
  'already-installed',
  'decommissioned',
]);

export type DeploymentType = 'software' | 'configuration';
export type DeploymentStatus = 'pending' | 'inprogress' | 'finished';

export interface FilterPredicate {
  scope: Scope;
  attribute: string;
  type: string;
  value: unknown;
}

export interface DeploymentRecord {
  id: string;
  name: string;
  artifactName: string;
  created: string;
  createdMs: number;
  finished?: string;
  type: DeploymentType;
  /** JSON text of the configuration, for configuration deployments. */
  configuration?: string;
  artifactIds: string[];
  groups: string[];
  forceInstallation: boolean;
  filter?: FilterPredicate[];
  /** The devices the deployment targets (Mender's `device_list`); a device's record is made when it polls. */
  deviceList: string[];
  /** Total number of devices targeted (`max_devices`). */
  maxDevices: number;
  /** Device deployment records made so far (`device_count`): devices that polled, or were aborted. */
  deviceCount: number;
  /** The stored overall status, changed only where mender-server changes it. */
  status: DeploymentStatus;
  /** Counters per device status: `pending` starts at max_devices; changed on each status update. */
  stats: Record<DeviceDeploymentStatus, number>;
}

export interface DeploymentLogMessage {
  timestamp: string;
  level: string;
  message: string;
}

export interface DeviceDeploymentRecord {
  id: string;
  deploymentId: string;
  deviceId: string;
  status: DeviceDeploymentStatus;
  created: string;
  started?: string;
  finished?: string;
  deviceType?: string;
  artifactId?: string;
  substate?: string;
  log?: DeploymentLogMessage[];
  /** Set by DELETE …/devices/{id}/history: the record is hidden from every query. */
  deleted?: string;
}

export interface DeviceConfigRecord {
  id: string;
  configured: Record<string, string>;
  reported: Record<string, string>;
  deploymentId?: string;
  updatedTs?: string;
  reportedTs?: string;
}
