import type { FleetDescription, FleetOptions } from './load';
import { FleetIssue } from './issues';
import type { SecretSource } from './variables';
import { validateDescription } from '../pipeline/validated-fleet';

export interface OfflineValidation {
  fleet?: FleetDescription;
  issues: FleetIssue[];
  /** What Ansible would let pass but is probably a mistake (e.g. host_vars of devices not in the inventory). */
  warnings: FleetIssue[];
}

/**
 * `fleet validate`'s check (program/pipeline/validated-fleet.ts does the work): the description
 * when it is valid, else the issues. The pipeline keeps the validated fleet instead.
 */
export function validateFleetOffline(fleetDir: string, secrets: SecretSource, options: FleetOptions = {}): OfflineValidation {
  const { fleet, issues, warnings } = validateDescription(fleetDir, secrets, options);
  return { fleet: fleet?.description, issues, warnings };
}
