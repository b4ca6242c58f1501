// What a rollout does to Mender's deployments besides making them: finding the unfinished ones,
// aborting them (whole, or one device), and taking devices out of other deployments first.
import { isMenderApiError, isNotFound } from '../mender';
import { finishedDeploymentsOf } from '../mender/observed';
import type { Deployment, DeviceDeploymentStatus, MenderClient } from '../mender';

/** The unfinished software deployments on the server (pending and in progress), with the devices each lists. */
export async function unfinishedDeployments(client: MenderClient): Promise<{ deployment: Deployment; targets: string[] }[]> {
  const [pending, inprogress] = await Promise.all([client.listAllDeployments({ status: 'pending', type: 'software' }), client.listAllDeployments({ status: 'inprogress', type: 'software' })]);
  return client.mapLimited([...pending, ...inprogress], async (deployment) => ({ deployment, targets: await client.getDeploymentDeviceList(deployment.id) }));
}

/**
 * A deployment that can no longer finish by itself: DELETE …/deployments/devices/{id} gave a
 * device an `aborted` record in it without counting it in the statistics (deployments
 * app/app.go, updateDeviceDeploymentsStatus), so its pending counter never reaches zero.
 */
export async function cannotFinish(client: MenderClient, deployment: Deployment): Promise<boolean> {
  const [statistics, abortedRecords] = await Promise.all([client.getDeploymentStatistics(deployment.id), client.countDeploymentDevices(deployment.id, 'aborted')]);
  return abortedRecords > (statistics.aborted ?? 0);
}

export async function abortWhole(client: MenderClient, id: string, why: string): Promise<void> {
  try {
    await client.abortDeployment(id, { action: `aborting it (${why})` });
  } catch (error) {
    // 422: it finished (or was aborted) in the meantime, which is what we wanted.
    if (!(isMenderApiError(error) && error.status === 422)) throw error;
  }
}

/** Whether the deployment is still there and not finished. */
export async function stillUnfinished(client: MenderClient, id: string): Promise<boolean> {
  const deployment = await client.getDeployment(id).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  return deployment !== undefined && deployment.status !== 'finished';
}

/**
 * Each device's status in the deployments, the newest deployment's record winning (a device
 * taken out of one part and put in another). A device without a record has not polled yet:
 * Mender makes the record when it does (deployments app/app.go, getNewDeploymentForDevice).
 */
export async function deviceStatuses(client: MenderClient, deploymentIds: string[]): Promise<Map<string, DeviceDeploymentStatus>> {
  const lists = await client.mapLimited(deploymentIds, (id) => client.listDeploymentDevices(id));
  const statuses = new Map<string, DeviceDeploymentStatus>();
  for (const list of lists) for (const record of list) statuses.set(record.id, record.status);
  return statuses;
}

/**
 * Takes each device out of the unfinished deployments of others that list it, so that it does
 * not install an older deployment first (a device takes its oldest deployment first). A
 * deployment that lists only such devices is aborted as a whole; from one shared with other
 * devices each device is aborted on its own (DELETE, once per deployment, as the server aborts
 * one newer deployment per call), and the device's history must show it aborted there.
 */
export async function releaseFromOthers(client: MenderClient, devices: string[], others: { deployment: Deployment; targets: string[] }[]): Promise<void> {
  const wanted = new Set(devices);
  const perDevice = new Map<string, Set<string>>();
  for (const { deployment, targets } of others) {
    const overlap = targets.filter((d) => wanted.has(d));
    if (overlap.length === 0) continue;
    if (overlap.length === targets.length) {
      await abortWhole(client, deployment.id, `its devices get ${deployment.artifact_name} no more`);
      continue;
    }
    for (const device of overlap) perDevice.set(device, (perDevice.get(device) ?? new Set()).add(deployment.id));
  }
  await client.mapLimited([...perDevice], async ([device, stale]) => {
    let left: string[] = [...stale];
    for (let attempt = 0; attempt <= stale.size; attempt++) {
      const done = await finishedDeploymentsOf(client, device);
      left = [];
      // Another resource of the ring may abort one of these deployments as a whole meanwhile.
      for (const id of stale) if (!done.has(id) && (await stillUnfinished(client, id))) left.push(id);
      if (left.length === 0) return;
      await client.abortDeviceDeployments(device, { action: 'taking it out of an older deployment' });
    }
    throw new Error(`device ${device} is still in unfinished deployment(s) ${left.join(', ')} after aborting them one by one; look at its deployments in Mender`);
  });
}
