// The fleet's actual state as Mender holds it, read in one place: what each device runs (see
// runningImages), each device's configuration in deviceconfig, and the deployments a device went
// through.
import type { DeviceConfigurationState, MenderClient } from './client';
import { isNotFound } from './errors';
import type { Artifact, DeviceDeploymentStatus } from './schemas';
import { FINISHED_DEVICE_STATUSES } from '../../shared/health';

/** Devices per inventory search: Mender's largest page. */
export const SEARCH_CHUNK = 500;

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Inventory attributes of each device (scope `inventory`), from one search per 500 devices
 * (bounded by the client's concurrency). Devices unknown to Mender are absent; an attribute a
 * device does not report, or reports empty, is undefined.
 */
export async function inventoryAttributes<A extends string>(client: MenderClient, devices: readonly string[], attributes: readonly A[]): Promise<Map<string, Record<A, string | undefined>>> {
  const pages = await client.mapLimited(chunks(devices, SEARCH_CHUNK), (ids) =>
    client.searchDevices({ device_ids: ids, attributes: attributes.map((attribute) => ({ scope: 'inventory' as const, attribute })), per_page: SEARCH_CHUNK }),
  );
  const found = new Map<string, Record<A, string | undefined>>();
  for (const device of pages.flat()) {
    const values = {} as Record<A, string | undefined>;
    for (const name of attributes) {
      const value = device.attributes?.find((a) => a.scope === 'inventory' && a.name === name)?.value;
      values[name] = typeof value === 'string' && value !== '' ? value : undefined;
    }
    found.set(device.id, values);
  }
  return found;
}

/**
 * The name a configuration deployment's artifact has: the workflows service names the
 * deployment `configuration-<deployment id>` (mender-server
 * backend/services/workflows/worker/workflows/deploy_device_configuration.json) and deployments
 * gives the generated artifact that name (app/app.go, GenerateConfigurationImage).
 */
const CONFIGURATION_ARTIFACT_NAME = /^configuration-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isConfigurationArtifactName = (name: string): boolean => CONFIGURATION_ARTIFACT_NAME.test(name);

/** The provide an OS image (rootfs-image) artifact sets, which a configuration artifact leaves alone. */
export const ROOTFS_VERSION_ATTRIBUTE = 'rootfs-image.version';

const IMAGE_ATTRIBUTES = ['artifact_name', ROOTFS_VERSION_ATTRIBUTE] as const;
type ImageAttribute = (typeof IMAGE_ATTRIBUTES)[number];

export interface ObservedDevice<A extends string> {
  attributes: Record<A, string | undefined>;
  /** The OS image the device runs (see runningImages); undefined when Mender cannot tell. */
  runningImage: string | undefined;
}

/**
 * Inventory attributes of each device and the OS image it runs, from the same inventory
 * searches; devices unknown to Mender are absent. `artifacts`: the server's artifact listing,
 * when the caller has it (else it is read, only if a device needs it).
 *
 * What a device runs is its `artifact_name` (the deployments service's isAlreadyInstalled,
 * app/app_os.go, compares only that), except after a configuration deployment: the mender
 * client then commits the configuration artifact's name as artifact_name
 * (datastore/datastore.go, CommitArtifactData), and that artifact clears only
 * `data-partition.mender-configure.*`, so the OS image is told by the `rootfs-image.version`
 * the client still provides, as the name of the artifact that provides that version, when the
 * device's inventory holds that attribute (an inventory script of the device's image may report
 * it; the emulator's simulated devices do). Debian's mender-client 3.4 ships no such script and
 * its inventory reports no provides (`mender show-provides` lists them, the inventory does not:
 * test/emulator/real-client.test.ts), so for such a device the image is the artifact of its
 * newest successful software deployment.
 */
export async function devicesWithImages<A extends string>(
  client: MenderClient,
  devices: readonly string[],
  attributes: readonly A[],
  options: { artifacts?: readonly Artifact[] } = {},
): Promise<Map<string, ObservedDevice<A>>> {
  const found = await inventoryAttributes<A | ImageAttribute>(client, devices, [...new Set<A | ImageAttribute>([...attributes, ...IMAGE_ATTRIBUTES])]);
  const configured = [...found].filter(([, values]) => values.artifact_name !== undefined && isConfigurationArtifactName(values.artifact_name));
  const byVersion = configured.some(([, values]) => values[ROOTFS_VERSION_ATTRIBUTE] !== undefined) ? artifactsByRootfsVersion(options.artifacts ?? (await client.listArtifacts())) : new Map<string, Set<string>>();
  const fromHistory = await client.mapLimited(
    configured.filter(([, values]) => values[ROOTFS_VERSION_ATTRIBUTE] === undefined).map(([id]) => id),
    async (id) => [id, await lastInstalledSoftware(client, id)] as const,
  );
  const installed = new Map(fromHistory);
  const out = new Map<string, ObservedDevice<A>>();
  for (const [id, values] of found) {
    const name = values.artifact_name;
    const version = values[ROOTFS_VERSION_ATTRIBUTE];
    let runningImage: string | undefined = name;
    if (name !== undefined && isConfigurationArtifactName(name)) {
      if (version !== undefined) {
        // mender-artifact writes the artifact name as rootfs-image.version unless told otherwise.
        const names = byVersion.get(version);
        runningImage = names?.size === 1 ? [...names][0] : version;
      } else {
        runningImage = installed.get(id);
      }
    }
    const picked = {} as Record<A, string | undefined>;
    for (const attribute of attributes) picked[attribute] = values[attribute];
    out.set(id, { attributes: picked, runningImage });
  }
  return out;
}

/** The OS image each device runs (see devicesWithImages); devices unknown to Mender are absent. */
export async function runningImages(client: MenderClient, devices: readonly string[]): Promise<Map<string, string | undefined>> {
  const found = await devicesWithImages(client, devices, []);
  return new Map([...found].map(([id, device]) => [id, device.runningImage]));
}

/** The names of the artifacts by the rootfs-image.version they provide. */
function artifactsByRootfsVersion(artifacts: readonly Artifact[]): Map<string, Set<string>> {
  const byVersion = new Map<string, Set<string>>();
  for (const artifact of artifacts) {
    const version = artifact.artifact_provides?.[ROOTFS_VERSION_ATTRIBUTE];
    if (version === undefined) continue;
    const names = byVersion.get(version) ?? new Set<string>();
    names.add(artifact.name);
    byVersion.set(version, names);
  }
  return byVersion;
}

/** The artifact the device's newest software deployment installed (or found installed), from its newest 20 deployments. */
async function lastInstalledSoftware(client: MenderClient, device: string): Promise<string | undefined> {
  const history = await client.getDeviceDeploymentHistory(device, { maxItems: 20 });
  const installed = history.find((d) => d.deployment.type !== 'configuration' && (d.device.status === 'success' || d.device.status === 'already-installed'));
  return installed?.deployment.artifact_name;
}

/**
 * Mender's configuration of each device (what was set for it, what it reported), read with the
 * client's bounded concurrency: undefined when deviceconfig holds nothing for the device (404), an
 * Error when the read failed, so that one device's failure does not hide the others.
 */
export async function deviceConfigurations(client: MenderClient, devices: readonly string[]): Promise<Map<string, DeviceConfigurationState | undefined | Error>> {
  const outcomes = await client.mapLimitedSettled(devices, (id) => client.getDeviceConfiguration(id));
  return new Map<string, DeviceConfigurationState | undefined | Error>(
    outcomes.map((outcome, i): [string, DeviceConfigurationState | undefined | Error] => {
      if (outcome.status === 'fulfilled') return [devices[i], outcome.value];
      if (isNotFound(outcome.reason)) return [devices[i], undefined];
      return [devices[i], outcome.reason instanceof Error ? outcome.reason : new Error(String(outcome.reason))];
    }),
  );
}

/** The deployments a device is done with (its history holds them in a finished status), newest 100. */
export async function finishedDeploymentsOf(client: MenderClient, device: string): Promise<Set<string>> {
  const history = await client.getDeviceDeploymentHistory(device, { maxItems: 100 });
  return new Set(history.filter((h) => FINISHED_DEVICE_STATUSES.has(h.device.status)).map((h) => h.deployment.id));
}

export interface SoftwareDeployment {
  status: DeviceDeploymentStatus;
  artifact: string;
  name: string;
  finished?: string;
}

/** The newest software (not configuration) deployment of a device, from its newest 20 deployments. */
export async function lastSoftwareDeployment(client: MenderClient, device: string): Promise<SoftwareDeployment | undefined> {
  const history = await client.getDeviceDeploymentHistory(device, { maxItems: 20 });
  const newest = history.find((d) => d.deployment.type !== 'configuration');
  if (!newest) return undefined;
  return { status: newest.device.status, artifact: newest.deployment.artifact_name, name: newest.deployment.name, finished: newest.device.finished };
}

/** A deployment's statistics without the statuses no device is in. */
export function nonZeroCounts(statistics: Partial<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(statistics).filter((entry): entry is [string, number] => typeof entry[1] === 'number' && entry[1] > 0));
}
