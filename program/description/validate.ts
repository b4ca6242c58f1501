import { FleetIssue } from './issues';
import { FleetDescription, FleetOptions, readFleet } from './load';
import { configurationTemplateOf, deviceScope, gitRingOf, osImagesOf, renderDeviceConfiguration } from './resolve';
import type { SecretSource } from './variables';

export interface OfflineValidation {
  fleet?: FleetDescription;
  issues: FleetIssue[];
  /** What Ansible would let pass but is probably a mistake (e.g. host_vars of devices not in the inventory). */
  warnings: FleetIssue[];
}

/**
 * Everything that can be checked without Mender: the files, and that each device's variables
 * and template render. Device types are not known offline, so `device_type` and
 * `desired_os_image` render as placeholders.
 */
export function validateFleetOffline(fleetDir: string, secrets: SecretSource, options: FleetOptions = {}): OfflineValidation {
  const issues: FleetIssue[] = [];
  const warnings: FleetIssue[] = [];
  const fleet = readFleet(fleetDir, issues, options, warnings);
  if (fleet) {
    for (const device of fleet.devices) {
      const scope = deviceScope(device, secrets, { device_type: '<device type>', desired_os_image: '<image of the device type>' });
      const found = [gitRingOf(device, scope).issue, osImagesOf(device, scope).issue];
      const template = configurationTemplateOf(fleet, device, scope);
      found.push(template.issue);
      if (template.value) found.push(renderDeviceConfiguration(device, template.value, scope).issue);
      issues.push(...found.filter((issue): issue is FleetIssue => issue !== undefined));
    }
  }
  return { fleet: issues.length === 0 ? fleet : undefined, issues, warnings };
}
