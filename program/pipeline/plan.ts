import { createHash } from 'node:crypto';
import { DeviceDescription, FleetDescription } from '../description/load';
import { FleetIssue } from '../description/issues';
import { deviceConfigurationOf, deviceScope, gitRingOf, osImagesOf, osImagesOrigin } from '../description/resolve';
import type { RenderedConfiguration } from '../description/template';
import type { SecretSource } from '../description/variables';
import { nameAFew } from '../../shared/name-a-few';
import type { ResolvedDevice } from './validated-fleet';

/** What Mender's inventory says about a device: the device knows itself best. */
export interface DeviceFacts {
  id: string;
  deviceType?: string;
  /** The OS image the device runs, as provider/mender/observed.ts (devicesWithImages) tells it. */
  artifactName?: string;
  /** A ring reported by the device itself; it overrides Git. */
  subscribedBranch?: string;
}

export interface ArtifactFacts {
  name: string;
  deviceTypes: string[];
}

export interface FleetFacts {
  devices: ReadonlyMap<string, DeviceFacts>;
  /** Artifacts on the server, when known; used to check that an image supports a device type. */
  artifacts?: ReadonlyMap<string, ArtifactFacts>;
}

export interface PlannedConfiguration extends RenderedConfiguration {
  template: string;
  /** Identifies the configuration without revealing secret values (only their keys count). */
  hash: string;
}

export interface PlannedDevice {
  id: string;
  group: string;
  ring: string;
  ringSource: 'device' | 'git' | 'default';
  deviceType: string;
  desiredImage: string;
  runningImage?: string;
  configuration?: PlannedConfiguration;
}

export interface PlannedImage {
  name: string;
  deviceTypes: string[];
}

export interface PlannedDeployment {
  image: string;
  devices: string[];
}

export interface Plan {
  ring: string;
  devices: PlannedDevice[];
  images: PlannedImage[];
  deployments: PlannedDeployment[];
  /** Devices of the fleet that follow another ring; this stack leaves them alone. */
  otherRings: { id: string; ring: string }[];
  warnings: FleetIssue[];
  errors: FleetIssue[];
}

export interface PlanOptions {
  ring: string;
  /** Devices listed in Git but unknown to Mender are errors instead of warnings. */
  strict?: boolean;
  secrets: SecretSource;
  /** The ring of a device that names none (no subscribed_branch in Git or in Mender). */
  defaultRing?: string;
  /** What validation already resolved per device (program/pipeline/validated-fleet.ts); the rest is resolved here. */
  resolved?: ReadonlyMap<string, ResolvedDevice>;
}

/** The example's default ring; a stack may name another with fleet:defaultRing. */
export const DEFAULT_RING = 'production';

export function configurationHash(rendered: RenderedConfiguration): string {
  const secret = new Set(rendered.secretKeys);
  const visible = Object.keys(rendered.values)
    .sort()
    .map((key) => [key, secret.has(key) ? '(secret)' : rendered.values[key]]);
  return createHash('sha256').update(JSON.stringify(visible)).digest('hex').slice(0, 16);
}

/**
 * The plan of one ring: which devices it holds, what each should run and how each is
 * configured. A pure function of the fleet description and Mender's facts.
 */
export function planRing(fleet: FleetDescription, facts: FleetFacts, options: PlanOptions): Plan {
  const defaultRing = options.defaultRing ?? DEFAULT_RING;
  const plan: Plan = { ring: options.ring, devices: [], images: [], deployments: [], otherRings: [], warnings: [], errors: [] };
  const unknown: DeviceDescription[] = [];

  for (const device of fleet.devices) {
    const deviceFacts = facts.devices.get(device.id);
    if (!deviceFacts) {
      unknown.push(device);
      continue;
    }
    const scope = deviceScope(device, options.secrets, { device_type: deviceFacts.deviceType ?? '' });
    const resolved = options.resolved?.get(device.id) ?? {};
    // The device knows its ring best (its own subscribed_branch), then Git, then the default.
    let ring = deviceFacts.subscribedBranch;
    let ringSource: PlannedDevice['ringSource'] = 'device';
    if (!ring) {
      const git = resolved.gitRing ?? gitRingOf(device, scope);
      if (git.issue) {
        plan.errors.push(git.issue);
        continue;
      }
      [ring, ringSource] = git.value ? [git.value, 'git'] : [defaultRing, 'default'];
    }
    if (ring !== options.ring) {
      plan.otherRings.push({ id: device.id, ring });
      continue;
    }
    const deviceType = deviceFacts.deviceType;
    if (!deviceType) {
      plan.errors.push({ ...device.origin, message: `device ${device.id}: Mender's inventory reports no device_type; the device must report it before it can be updated` });
      continue;
    }
    const images = resolved.osImages ?? osImagesOf(device, scope);
    if (images.issue) {
      plan.errors.push(images.issue);
      continue;
    }
    const image = images.value.find((entry) => entry.device_type === deviceType);
    if (!image) {
      const where = osImagesOrigin(device) ?? { file: 'group_vars/all.yml' };
      plan.errors.push({
        ...where,
        message: `device ${device.id} is a ${deviceType} and os_image has no image for that device type; add {device_type: ${deviceType}, image_name: …} to os_image`,
      });
      continue;
    }
    const artifact = facts.artifacts?.get(image.image_name);
    if (artifact && !artifact.deviceTypes.includes(deviceType)) {
      plan.errors.push({
        ...(osImagesOrigin(device) ?? device.origin),
        message: `image ${image.image_name} does not support device type ${deviceType} (device ${device.id}); the artifact is compatible with ${artifact.deviceTypes.join(', ')}`,
      });
      continue;
    }

    const planned: PlannedDevice = {
      id: device.id,
      group: device.group,
      ring,
      ringSource,
      deviceType,
      desiredImage: image.image_name,
      runningImage: deviceFacts.artifactName,
    };
    scope.provide('desired_os_image', image.image_name);
    const configuration = resolved.configuration ?? deviceConfigurationOf(fleet, device, scope);
    if (configuration.issue) {
      plan.errors.push(configuration.issue);
      continue;
    }
    if (configuration.value) {
      const { template, rendered } = configuration.value;
      planned.configuration = { ...rendered, template: template.name, hash: configurationHash(rendered) };
    }
    plan.devices.push(planned);
  }

  if (unknown.length > 0) {
    const ids = unknown.map((d) => d.id);
    const issue = {
      file: unknown[0].origin.file,
      line: unknown[0].origin.line,
      message: `${ids.length} device${ids.length === 1 ? '' : 's'} listed in Git ${ids.length === 1 ? 'is' : 'are'} unknown to Mender (not accepted or wrong id): ${nameAFew(ids)}`,
    };
    (options.strict ? plan.errors : plan.warnings).push(issue);
  }

  plan.devices.sort((a, b) => a.id.localeCompare(b.id));
  const byImage = new Map<string, { deviceTypes: Set<string>; devices: string[] }>();
  for (const device of plan.devices) {
    const entry = byImage.get(device.desiredImage) ?? { deviceTypes: new Set<string>(), devices: [] };
    entry.deviceTypes.add(device.deviceType);
    entry.devices.push(device.id);
    byImage.set(device.desiredImage, entry);
  }
  for (const [name, entry] of [...byImage].sort(([a], [b]) => a.localeCompare(b))) {
    plan.images.push({ name, deviceTypes: [...entry.deviceTypes].sort() });
    plan.deployments.push({ image: name, devices: entry.devices });
  }
  return plan;
}
