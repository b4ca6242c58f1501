// One vocabulary for a device's health: what Git desires (through the stack) against what Mender
// observes, per aspect (image, ring, configuration). `fleet status`, the fleet plan and the audit
// say a device is in sync, drifted, pending or failed in these words and by these rules.
import { differingKeys } from '../provider/configuration-rollout';
import { FAILED_DEVICE_STATUSES, FINISHED_DEVICE_STATUSES } from '../provider/mender/observed';
import type { DeviceDeploymentStatus } from '../provider/mender/schemas';
import { configurationHash } from './pipeline/plan';

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
  configured: Record<string, string>;
  reported: Record<string, string>;
}

/** Git's configuration of a device as the stack records it: the hash (pipeline/plan.ts) and, since it is recorded, which keys are secret. */
export interface DesiredConfiguration {
  hash: string;
  /** Undefined for a stack applied before the keys were recorded; then Git's values cannot be compared. */
  secretKeys?: readonly string[];
}

/**
 * The configuration's health. A configuration the device has not reported yet is pending, as
 * before; one it reports and Mender holds, but which is not Git's, has drifted (before Git was
 * compared, that read "in sync"). Secret values are not in the stack's hash, so a secret changed
 * in Mender alone is not seen here (the provider's read compares the values themselves).
 */
export function configurationHealth(desired: DesiredConfiguration, observed: ObservedConfiguration | undefined): Health {
  if (!observed || Object.keys(observed.configured).length === 0) return 'pending';
  if (differingKeys(observed.configured, observed.reported).length > 0) return 'pending';
  if (desired.secretKeys === undefined) return 'in sync';
  const held = configurationHash({ values: observed.configured, secretKeys: [...desired.secretKeys] });
  return held === desired.hash ? 'in sync' : 'drifted';
}

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
