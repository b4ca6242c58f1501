// One vocabulary for a device's health, shared by the two sides that judge it: the program's
// (`fleet status`, with Git's side in program/health.ts, and the audit) and the provider's
// process (the configuration resources' read and rollout). It loads neither (it takes only the
// type of Mender's device deployment statuses), so the provider process loads no planner and
// the program no provider implementation.
import type { DeviceDeploymentStatus } from '../provider/mender/schemas';

/**
 * - in sync: Mender observes what Git desires.
 * - pending: on its way: Mender holds what Git desires and the device has not reported it yet,
 *   or a deployment of it is still running.
 * - drifted: the device runs, or Mender holds, something other than Git's (set by hand, or stale).
 * - failed: the last attempt to bring the device there failed.
 */
export type Health = 'in sync' | 'pending' | 'drifted' | 'failed';

/** An aspect the fleet manages for a device. */
export type Aspect = 'image' | 'ring' | 'configuration';

/** A device's configuration as Mender holds it: what was set for it and what it reported. */
export interface ObservedConfiguration {
  configured: Readonly<Record<string, string>>;
  reported: Readonly<Record<string, string>>;
}

/** Keys whose value differs between two configurations (either side missing counts). */
export function differingKeys(want: Readonly<Record<string, string>>, have: Readonly<Record<string, string>>): string[] {
  return [...new Set([...Object.keys(want), ...Object.keys(have)])].filter((k) => want[k] !== have[k]).sort();
}

/** The keys an up has to send again: where what the device reports, or what Mender holds for it, differs from Git's. */
export function driftedKeys(want: Readonly<Record<string, string>>, observed: ObservedConfiguration): string[] {
  return [...new Set([...differingKeys(want, observed.reported), ...differingKeys(want, observed.configured)])].sort();
}

/**
 * Whether a configuration Mender holds is Git's. The provider knows Git's values, secrets
 * included (`isConfiguration`); the program knows only the hash the stack recorded
 * (program/health.ts).
 */
export type GitsConfiguration = (held: Readonly<Record<string, string>>) => boolean;

/** Git's configuration by its values. */
export const isConfiguration =
  (want: Readonly<Record<string, string>>): GitsConfiguration =>
  (held) =>
    differingKeys(want, held).length === 0;

/**
 * The configuration's health. Until the device reports what Mender holds it is pending; then in
 * sync when that is Git's, pending while Mender holds nothing yet, else drifted.
 */
export function configurationHealth(observed: ObservedConfiguration | undefined, isGits: GitsConfiguration): Health {
  if (!observed || differingKeys(observed.configured, observed.reported).length > 0) return 'pending';
  if (isGits(observed.configured)) return 'in sync';
  return Object.keys(observed.configured).length === 0 ? 'pending' : 'drifted';
}

/** Device deployment statuses after which a device is done with a deployment (model.IsDeviceDeploymentStatusFinished). */
export const FINISHED_DEVICE_STATUSES: ReadonlySet<DeviceDeploymentStatus> = new Set<DeviceDeploymentStatus>([
  'failure',
  'aborted',
  'success',
  'noartifact',
  'already-installed',
  'decommissioned',
]);

/** Device deployment statuses of a failed installation (the deployment's statistics count them as failures). */
export const FAILED_DEVICE_STATUSES: ReadonlySet<DeviceDeploymentStatus> = new Set<DeviceDeploymentStatus>(['failure', 'noartifact']);

/** A device's newest software deployment, as far as the image's health needs it. */
export interface LastDeployment {
  artifact: string;
  status: DeviceDeploymentStatus;
}

/** The OS image's health: the image the device runs against Git's, and where its last deployment of Git's image stands. */
export function imageHealth(desired: string, running: string | undefined, last?: LastDeployment): Health {
  if (running === desired) return 'in sync';
  if (last?.artifact === desired) {
    if (FAILED_DEVICE_STATUSES.has(last.status)) return 'failed';
    if (!FINISHED_DEVICE_STATUSES.has(last.status)) return 'pending';
  }
  // Installed and replaced since, aborted, or never sent: nothing brings the device to Git's image until an up.
  return 'drifted';
}

/** A device has converged when every aspect the fleet manages for it is in sync ("none": not managed). */
export function converged(...aspects: (Health | 'none')[]): boolean {
  return aspects.every((health) => health === 'in sync' || health === 'none');
}
