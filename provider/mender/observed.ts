// The fleet's actual state as Mender holds it, read in one place: what each device runs, as the
// inventory says and as the deployments service judges it (the device's `artifact_name`:
// deployments app/app_os.go, isAlreadyInstalled compares the artifact_name a device reports,
// never rootfs-image.version), each device's configuration in deviceconfig, and the deployments
// a device went through.
import type { DeviceConfigurationState, MenderClient } from './client';
import { isNotFound } from './errors';
import type { DeviceDeploymentStatus } from './schemas';

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

/** The inventory attribute that says which artifact a device runs. */
export const RUNNING_ARTIFACT_ATTRIBUTE = 'artifact_name';

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

/** The artifact each device runs; devices unknown to Mender are absent. */
export async function runningArtifacts(client: MenderClient, devices: readonly string[]): Promise<Map<string, string | undefined>> {
  const found = await inventoryAttributes(client, devices, [RUNNING_ARTIFACT_ATTRIBUTE]);
  return new Map([...found].map(([id, values]) => [id, values[RUNNING_ARTIFACT_ATTRIBUTE]]));
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
