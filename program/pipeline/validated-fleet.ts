// The validated fleet: the fleet description once every check that needs no Mender server has
// passed, with what validation resolved for each device kept for the planner. A device's ring,
// images and configuration are resolved here with placeholder facts; a value that read no fact
// (device_type, desired_os_image) is the same whatever Mender reports, so the planner takes it
// as it is and resolves only the others, with the real facts.
import { FleetIssue } from '../description/issues';
import { DeviceDescription, FleetDescription, FleetOptions, readFleet } from '../description/load';
import { DeviceConfigurationValue, deviceConfigurationOf, deviceScope, gitRingOf, osImagesOf } from '../description/resolve';
import type { OsImage } from '../description/schema';
import type { SecretSource } from '../description/variables';

/** The facts validation stands in for: Mender knows them, the files do not. */
const PLACEHOLDER_FACTS = { device_type: '<device type>', desired_os_image: '<image of the device type>' };

/** A value resolved once, at validation, because it does not depend on Mender's facts. */
export interface Settled<T> {
  value: T;
  /** Never set: a settled value resolved without an issue (so it stands where a resolution does). */
  issue?: undefined;
}

/** What validation resolved for a device; an absent field depends on facts and is resolved by the planner. */
export interface ResolvedDevice {
  gitRing?: Settled<string | undefined>;
  osImages?: Settled<OsImage[]>;
  configuration?: Settled<DeviceConfigurationValue | undefined>;
}

export interface ValidatedFleet {
  description: FleetDescription;
  /** By device id. */
  resolved: ReadonlyMap<string, ResolvedDevice>;
}

export interface FleetValidation {
  fleet?: ValidatedFleet;
  issues: FleetIssue[];
  /** What Ansible would let pass but is probably a mistake (e.g. host_vars of devices not in the inventory). */
  warnings: FleetIssue[];
}

const settled = <T>(tracked: { value: T; readFacts: boolean }): Settled<T> | undefined => (tracked.readFacts ? undefined : { value: tracked.value });

function validateDevice(fleet: FleetDescription, device: DeviceDescription, secrets: SecretSource, issues: FleetIssue[]): ResolvedDevice {
  const scope = deviceScope(device, secrets, PLACEHOLDER_FACTS);
  const resolved: ResolvedDevice = {};
  const ring = scope.tracking(() => gitRingOf(device, scope));
  if (ring.value.issue) issues.push(ring.value.issue);
  else resolved.gitRing = settled({ value: ring.value.value, readFacts: ring.readFacts });
  const images = scope.tracking(() => osImagesOf(device, scope));
  if (images.value.issue) issues.push(images.value.issue);
  else resolved.osImages = settled({ value: images.value.value, readFacts: images.readFacts });

  const configuration = scope.tracking(() => deviceConfigurationOf(fleet, device, scope));
  if (configuration.value.issue) issues.push(configuration.value.issue);
  else resolved.configuration = settled({ value: configuration.value.value, readFacts: configuration.readFacts });
  return resolved;
}

/**
 * Everything that can be checked without Mender: the files, and that each device's variables
 * and template render. Device types are not known offline, so `device_type` and
 * `desired_os_image` render as placeholders.
 */
export function validateDescription(fleetDir: string, secrets: SecretSource, options: FleetOptions = {}): FleetValidation {
  const issues: FleetIssue[] = [];
  const warnings: FleetIssue[] = [];
  const description = readFleet(fleetDir, issues, options, warnings);
  if (!description) return { issues, warnings };
  const resolved = new Map<string, ResolvedDevice>();
  for (const device of description.devices) resolved.set(device.id, validateDevice(description, device, secrets, issues));
  return { fleet: issues.length === 0 ? { description, resolved } : undefined, issues, warnings };
}
