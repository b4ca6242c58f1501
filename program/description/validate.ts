import { FleetIssue } from './issues';
import { FleetDescription, readFleet } from './load';
import { renderConfiguration, SecretSource, TemplateRenderError } from './template';

export interface OfflineValidation {
  fleet?: FleetDescription;
  issues: FleetIssue[];
}

/**
 * Everything that can be checked without Mender: the files, and that each device's template
 * renders. Device types are not known offline, so `desired_os_image` renders as a placeholder.
 */
export function validateFleetOffline(fleetDir: string, secrets: SecretSource): OfflineValidation {
  const issues: FleetIssue[] = [];
  const fleet = readFleet(fleetDir, issues);
  if (fleet) {
    for (const device of fleet.devices) {
      if (!device.configuration) continue;
      const template = fleet.templates.get(device.configuration.template);
      if (!template) continue; // already reported by readFleet
      try {
        renderConfiguration(
          template,
          { ...device.variables, ...(device.configuration.parameters ?? {}), desired_os_image: '<image of the device type>', device_id: device.id, device_type: '<device type>' },
          secrets,
        );
      } catch (error) {
        if (!(error instanceof TemplateRenderError)) throw error;
        issues.push({ file: error.file, line: error.line, message: `for device ${device.id}: ${error.reason}` });
      }
    }
  }
  return { fleet: issues.length === 0 ? fleet : undefined, issues };
}
