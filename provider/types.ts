import type { RolloutPolicy as WavePolicy } from './rollout/policy';
import type { RolloutProgress } from './rollout/progress';

/** Inputs and outputs of the three resources, as the provider sees them (plain values). */

export interface ImageReleaseInputs {
  artifactName: string;
  /** Device types the artifact must support. */
  deviceTypes: string[];
  /** A local .mender file to upload when the server lacks the artifact. */
  file?: string;
  /** Delete the artifact from the server when the resource is deleted (default: leave it). */
  removeOnDelete?: boolean;
}

export interface ImageReleaseOutputs extends ImageReleaseInputs {
  artifactIds: string[];
  size: number;
  /** sha256 of the first payload file, as Mender reports it. */
  checksum: string;
  compatibleDeviceTypes: string[];
  /** Whether this resource uploaded the artifact (rather than adopting it). */
  uploaded: boolean;
}

/**
 * How long an update waits for a deployment, or for the devices to report a configuration, when
 * the inputs name no timeout. The program always names one (fleet:rolloutTimeoutSeconds, whose
 * default in Pulumi.yaml is this value too).
 */
export const DEFAULT_TIMEOUT_SECONDS = 900;

export interface RolloutPolicy {
  /** Wait until the deployment finishes (default true). */
  waitForCompletion?: boolean;
  timeoutSeconds?: number;
  /** Failed devices / all devices above which the deployment is aborted and `up` fails (default 0). */
  maxFailureRatio?: number;
  forceInstallation?: boolean;
  /** How often to poll the deployment's statistics while waiting. */
  pollSeconds?: number;
  /** Devices per Mender deployment; larger sets are split (default 20,000; Mender refuses bodies over 1 MiB). */
  maxDevicesPerDeployment?: number;
}

export interface MenderDeploymentInputs {
  artifactName: string;
  /** Device ids; order does not matter (check sorts them). */
  devices: string[];
  /** Prefix of the deterministic Mender deployment name, e.g. the ring. */
  namePrefix: string;
  /** How the provider talks to Mender while it rolls out (polling, parts, forcing). */
  rollout?: RolloutPolicy;
  /**
   * The ring's rollout policy (fleet:rollout): waves, gate, soak, timeouts, pause. Without it,
   * one wave, and the gate and waits of `rollout` (maxFailureRatio, timeoutSeconds).
   */
  policy?: WavePolicy;
}

export type StatusCounts = Record<string, number>;

export interface MenderDeploymentOutputs extends MenderDeploymentInputs {
  /** Where the rollout stands (waves, the image each device ran before, how it ended); absent in stacks applied before waves. */
  progress?: RolloutProgress;
  /** Every Mender deployment this resource made or adopted, oldest first. */
  deploymentIds: string[];
  /** The newest of them ('' when the last update needed none). */
  deploymentId: string;
  /** The deployments the last create or update made or adopted (one per part of the set). */
  activeDeploymentIds?: string[];
  /** 'finished', 'inprogress' (the rollout goes on at the next up), 'aborted' (the gate stopped it), or 'up-to-date': every device ran the artifact, nothing was deployed. */
  status: string;
  /** Devices of the set that already ran the artifact at the last create or update. */
  alreadyRunning?: number;
  statistics: StatusCounts;
  failedDevices: string[];
  /** Devices of the set that do not run the artifact (found by read; the next update redeploys them). */
  outOfSync: string[];
}

export interface DeviceConfigurationInputs {
  deviceId: string;
  values: Record<string, string>;
  /** Values that are Pulumi secrets; kept apart so preview can show the plain ones. */
  secretValues: Record<string, string>;
  /** Wait until the device reports the configuration (default true). */
  waitForReport?: boolean;
  timeoutSeconds?: number;
  /** Clear the device's configuration when the resource is deleted (default: leave it). */
  clearOnDelete?: boolean;
}

export interface DeviceConfigurationOutputs extends DeviceConfigurationInputs {
  deploymentId: string;
  /** Whether the device reports exactly the desired configuration. */
  inSync: boolean;
  /** Keys whose reported value differs from the desired one (values are never listed). */
  driftedKeys: string[];
}

/** One device's configuration inside a DeviceConfigurationSet. */
export interface ConfiguredDevice {
  values: Record<string, string>;
  /** Values that are Pulumi secrets in the program (each device's map is its own secret). */
  secretValues?: Record<string, string>;
}

export interface DeviceConfigurationSetInputs {
  /** The Ansible group and the template the devices of the set share (the set's id is "<group>/<template>", plus "#<shard>" when split). */
  group: string;
  template: string;
  /** "<i>/<n>" when the pair's devices are split into n sets by a hash of the device id. */
  shard?: string;
  /** Device id → its configuration. */
  devices: Record<string, ConfiguredDevice>;
  /** Wait until each device reports its configuration (default true). */
  waitForReport?: boolean;
  timeoutSeconds?: number;
  /** Clear a device's configuration when it leaves the set or the set is deleted (default: leave it). */
  clearOnDelete?: boolean;
}

export interface DeviceConfigurationSetOutputs extends DeviceConfigurationSetInputs {
  /** Device → the configuration deployment that last configured it. */
  deploymentIds: Record<string, string>;
  /** Devices whose configuration in Mender differs from Git (found by read): device → keys, never values. */
  drifted: Record<string, string[]>;
  /** Devices the last create or update could not configure: device → why. The next update retries them. */
  failed: Record<string, string>;
  /** Every device is configured and reports its configuration as wanted. */
  inSync: boolean;
}
