import type * as pulumi from '@pulumi/pulumi';
import { deploymentName, deploymentNamePrefix, isRingDeploymentOf, longestDeploymentName as longestDeploymentNameOf, MAX_DEPLOYMENT_NAME_LENGTH } from './deployment-name';
import { chunks, isMenderApiError, runningImages } from './mender';
import { isNotFound, PartialFailure } from './protocol';
import { finishedDeploymentsOf } from './mender/observed';
import type { Deployment, MenderClient } from './mender';
import { menderClient } from './settings';
import { RolloutError, RolloutResult, watchRollout } from './rollout';
import { MenderDeploymentInputs, MenderDeploymentOutputs, StatusCounts } from './types';

const sortedUnique = (values: string[]) => [...new Set(values)].sort();

/**
 * Devices per Mender deployment. The deployments service refuses bodies over 1 MiB
 * (request_size_limit), about 26,000 device ids; larger sets are split into parts.
 */
export const DEFAULT_DEVICES_PER_DEPLOYMENT = 20_000;
const MAX_DEVICES_PER_DEPLOYMENT = 25_000;

// The name format (written here, read here and by the promotion gate) is deployment-name.ts's.
export { deploymentName, MAX_DEPLOYMENT_NAME_LENGTH } from './deployment-name';

/** What every name of this resource starts with; it tells this resource's deployments from others. */
const namePrefixOf = (inputs: Pick<MenderDeploymentInputs, 'namePrefix' | 'artifactName'>) => deploymentNamePrefix(inputs.namePrefix, inputs.artifactName);

/** The longest name this resource can produce. */
export function longestDeploymentName(inputs: Pick<MenderDeploymentInputs, 'namePrefix' | 'artifactName'>): number {
  return longestDeploymentNameOf(inputs.namePrefix, inputs.artifactName, MAX_DEVICES_PER_DEPLOYMENT);
}

interface Watched {
  id: string;
  devices: string[];
}

/** The unfinished software deployments on the server (pending and in progress). */
async function activeDeployments(client: MenderClient): Promise<Deployment[]> {
  const [pending, inprogress] = await Promise.all([client.listAllDeployments({ status: 'pending', type: 'software' }), client.listAllDeployments({ status: 'inprogress', type: 'software' })]);
  return [...pending, ...inprogress];
}

/**
 * A deployment that can no longer finish by itself: DELETE …/deployments/devices/{id} gave a
 * device an `aborted` record in it without counting it in the statistics (deployments
 * app/app.go, updateDeviceDeploymentsStatus), so its pending counter never reaches zero.
 */
async function cannotFinish(client: MenderClient, deployment: Deployment): Promise<boolean> {
  const [statistics, abortedRecords] = await Promise.all([client.getDeploymentStatistics(deployment.id), client.countDeploymentDevices(deployment.id, 'aborted')]);
  return abortedRecords > (statistics.aborted ?? 0);
}

async function abortWhole(client: MenderClient, id: string, why: string): Promise<void> {
  try {
    await client.abortDeployment(id, { action: `aborting it (${why})` });
  } catch (error) {
    // 422: it finished (or was aborted) in the meantime, which is what we wanted.
    if (!(isMenderApiError(error) && error.status === 422)) throw error;
  }
}

/** Devices of a deployment whose record says they are done with it. */
async function finishedIn(client: MenderClient, id: string): Promise<Set<string>> {
  return new Set((await client.listDeploymentDevices(id, { status: 'finished' })).map((d) => d.id));
}

/**
 * Takes each device out of the unfinished deployments of others that list it, so that it does
 * not install an older deployment first (a device takes its oldest deployment first). A
 * deployment that lists only such devices is aborted as a whole; from one shared with other
 * devices each device is aborted on its own (DELETE, once per deployment, as the server aborts
 * one newer deployment per call), and the device's history must show it aborted there.
 */
async function releaseFromOthers(client: MenderClient, devices: string[], others: { deployment: Deployment; targets: string[] }[]): Promise<void> {
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
  // Another resource of the ring may abort one of these deployments as a whole meanwhile.
  const stillUnfinished = async (id: string): Promise<boolean> => {
    const deployment = await client.getDeployment(id).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    return deployment !== undefined && deployment.status !== 'finished';
  };
  await client.mapLimited([...perDevice], async ([device, stale]) => {
    let left: string[] = [...stale];
    for (let attempt = 0; attempt <= stale.size; attempt++) {
      const done = await finishedDeploymentsOf(client, device);
      left = [];
      for (const id of stale) if (!done.has(id) && (await stillUnfinished(id))) left.push(id);
      if (left.length === 0) return;
      await client.abortDeviceDeployments(device, { action: 'taking it out of an older deployment' });
    }
    throw new Error(`device ${device} is still in unfinished deployment(s) ${left.join(', ')} after aborting them one by one; look at its deployments in Mender`);
  });
}

interface Converged {
  watched: Watched[];
  result: RolloutResult;
  /** Devices of the set that already ran the artifact, so no deployment was made for them. */
  alreadyRunning: number;
}

function sumCounts(results: RolloutResult[]): StatusCounts {
  const total: StatusCounts = {};
  for (const r of results) for (const [k, n] of Object.entries(r.statistics)) total[k] = (total[k] ?? 0) + n;
  return total;
}

/**
 * Makes the devices of the set run the artifact: adopts this resource's unfinished deployments
 * that still fit the set (a crash, a retried create), aborts those that do not or can no
 * longer finish, deploys to the devices that neither run the artifact nor are on their way to
 * it (in parts, each under the server's request size), and waits for all of it.
 */
/** A rollout that failed after its deployments existed on the server: what it made, and why it stopped. */
class RolloutFailedAfterCreate extends Error {
  constructor(message: string, readonly converged: Converged, options: { cause: unknown }) {
    super(message, options);
    this.name = 'RolloutFailedAfterCreate';
  }
}

async function converge(client: MenderClient, inputs: MenderDeploymentInputs): Promise<Converged> {
  const desired = sortedUnique(inputs.devices);
  const wanted = new Set(desired);
  const active = await activeDeployments(client);
  const listed = await client.mapLimited(active, async (deployment) => ({ deployment, targets: await client.getDeploymentDeviceList(deployment.id) }));

  const adopted: Watched[] = [];
  const others: typeof listed = [];
  for (const entry of listed) {
    const { deployment, targets } = entry;
    if (!isRingDeploymentOf(deployment, inputs.namePrefix, inputs.artifactName)) {
      others.push(entry);
    } else if (targets.some((d) => !wanted.has(d))) {
      await abortWhole(client, deployment.id, 'devices left the set');
    } else if (await cannotFinish(client, deployment)) {
      await abortWhole(client, deployment.id, 'it can no longer finish');
    } else {
      adopted.push({ id: deployment.id, devices: targets });
    }
  }

  const busy = new Set<string>();
  for (const w of adopted) {
    const done = await finishedIn(client, w.id);
    for (const d of w.devices) if (!done.has(d)) busy.add(d);
  }
  const running = await runningImages(client, desired);
  const force = inputs.rollout?.forceInstallation ?? false;
  const needing = desired.filter((d) => !busy.has(d) && (force || running.get(d) !== inputs.artifactName));
  const alreadyRunning = desired.filter((d) => running.get(d) === inputs.artifactName && !busy.has(d)).length;

  const created: Watched[] = [];
  if (needing.length > 0) {
    await releaseFromOthers(client, needing, others);
    const size = inputs.rollout?.maxDevicesPerDeployment ?? DEFAULT_DEVICES_PER_DEPLOYMENT;
    for (const part of chunks(needing, size)) {
      const name = deploymentName(inputs.namePrefix, inputs.artifactName, part);
      const { id } = await client.createDeployment(
        { name, artifact_name: inputs.artifactName, devices: part, force_installation: force },
        { artifactName: inputs.artifactName, deploymentName: name },
      );
      created.push({ id, devices: part });
    }
  }

  // Nothing to deploy: a deployment this resource made for exactly this set, now finished,
  // still stands for it (a create retried after the engine lost its answer).
  if (adopted.length === 0 && created.length === 0) {
    const name = deploymentName(inputs.namePrefix, inputs.artifactName, desired);
    const [finished] = (await client.findDeploymentsByName(name)).sort((a, b) => b.created.localeCompare(a.created));
    if (finished) return { watched: [{ id: finished.id, devices: desired }], alreadyRunning, result: { status: 'finished', statistics: {}, failedDevices: [] } };
  }

  const watched = [...adopted, ...created];
  try {
    const results = await Promise.all(watched.map((w) => watchRollout(client, w.id, w.devices.length, inputs.rollout)));
    const status = results.find((r) => r.status !== 'finished')?.status ?? 'finished';
    return {
      watched,
      alreadyRunning,
      result: { status, statistics: sumCounts(results), failedDevices: sortedUnique(results.flatMap((r) => r.failedDevices)) },
    };
  } catch (error) {
    if (error instanceof RolloutError) {
      // A failing part stops the whole rollout of this image. A part that only outlasted the
      // timeout keeps running, as do the others: the next up waits for them again.
      if (error.result.status === 'aborted') await Promise.all(watched.map((w) => abortWhole(client, w.id, 'another part of the rollout failed')));
      throw new RolloutFailedAfterCreate(`${inputs.artifactName} to ${needing.length + busy.size} device(s): ${error.message}`, { watched, alreadyRunning, result: error.result }, { cause: error });
    }
    throw error;
  }
}

function outputsOf(inputs: MenderDeploymentInputs, previous: string[], done: Converged): MenderDeploymentOutputs {
  const ids = done.watched.map((w) => w.id);
  return {
    ...inputs,
    deploymentIds: [...new Set([...previous, ...ids])],
    deploymentId: ids[ids.length - 1] ?? '',
    activeDeploymentIds: ids,
    status: done.watched.length === 0 ? 'up-to-date' : done.result.status,
    statistics: done.result.statistics,
    failedDevices: done.result.failedDevices,
    alreadyRunning: done.alreadyRunning,
    outOfSync: [],
  };
}

export const menderDeployment: pulumi.dynamic.ResourceProvider<MenderDeploymentInputs, MenderDeploymentOutputs> = {
  async check(_olds, news) {
    const inputs = { ...news, devices: sortedUnique(news.devices ?? []) };
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!inputs.artifactName) failures.push({ property: 'artifactName', reason: 'an artifact name is required' });
    if (inputs.devices.length === 0) failures.push({ property: 'devices', reason: 'a deployment needs at least one device' });
    if (!inputs.namePrefix) failures.push({ property: 'namePrefix', reason: 'a name prefix (the ring) is required' });
    const ratio = inputs.rollout?.maxFailureRatio;
    if (ratio !== undefined && (ratio < 0 || ratio > 1)) failures.push({ property: 'rollout', reason: 'maxFailureRatio must be between 0 and 1' });
    const perDeployment = inputs.rollout?.maxDevicesPerDeployment;
    if (perDeployment !== undefined && !(Number.isInteger(perDeployment) && perDeployment >= 1 && perDeployment <= MAX_DEVICES_PER_DEPLOYMENT)) {
      failures.push({ property: 'rollout', reason: `maxDevicesPerDeployment must be a whole number from 1 to ${MAX_DEVICES_PER_DEPLOYMENT} (Mender refuses request bodies over 1 MiB)` });
    }
    if (inputs.artifactName && inputs.namePrefix) {
      const longest = longestDeploymentName(inputs);
      if (longest > MAX_DEPLOYMENT_NAME_LENGTH) {
        failures.push({
          property: 'artifactName',
          reason: `the Mender deployment names for ${inputs.artifactName} in ring ${inputs.namePrefix} would be up to ${longest} characters and Mender allows ${MAX_DEPLOYMENT_NAME_LENGTH}: use a shorter ring or artifact name`,
        });
      }
    }
    return { inputs, failures };
  },

  async diff(_id, olds, news) {
    if (olds.artifactName !== news.artifactName) return { changes: true, replaces: ['artifactName'], deleteBeforeReplace: true };
    const changes =
      JSON.stringify(olds.devices) !== JSON.stringify(news.devices) ||
      (olds.outOfSync ?? []).some((id) => news.devices.includes(id)) ||
      JSON.stringify(olds.rollout ?? {}) !== JSON.stringify(news.rollout ?? {}) ||
      olds.namePrefix !== news.namePrefix;
    return { changes };
  },

  async create(inputs) {
    let done: Converged;
    try {
      done = await converge(menderClient(), inputs);
    } catch (error) {
      if (!(error instanceof RolloutFailedAfterCreate)) throw error;
      // The deployments exist on the server: the engine records the resource (protocol.ts), so
      // the next up updates it from there instead of creating anew.
      const outs = outputsOf(inputs, [], error.converged);
      throw new PartialFailure(outs.deploymentIds[0], outs, [error.message], { cause: error.cause });
    }
    const outs = outputsOf(inputs, [], done);
    // A set that needed no deployment still is one resource: it is named by what it stands for.
    return { id: outs.deploymentIds[0] ?? `${namePrefixOf(inputs)}up-to-date`, outs };
  },

  async read(id, props) {
    const client = menderClient();
    const old = props as MenderDeploymentOutputs;
    // A device still targeted by an unfinished deployment of this resource is on its way,
    // whether or not it has polled yet: not drifted. Read before what devices run: a device
    // only leaves that set by finishing, so the other order could miss one in between.
    const busy = new Set<string>();
    let anyUnfinished = false;
    for (const deploymentId of old.activeDeploymentIds ?? (old.deploymentId ? [old.deploymentId] : [])) {
      let deployment;
      try {
        deployment = await client.getDeployment(deploymentId);
      } catch (error) {
        if (isNotFound(error)) continue;
        throw error;
      }
      if (deployment.status === 'finished') continue;
      anyUnfinished = true;
      const done = await finishedIn(client, deploymentId);
      for (const d of await client.getDeploymentDeviceList(deploymentId)) if (!done.has(d)) busy.add(d);
    }
    const running = await runningImages(client, old.devices);
    const outOfSync = old.devices.filter((d) => running.has(d) && running.get(d) !== old.artifactName && !busy.has(d));
    return { id, props: { ...old, status: anyUnfinished ? 'inprogress' : old.status, outOfSync } };
  },

  async update(_id, olds, news) {
    const done = await converge(menderClient(), news);
    return { outs: outputsOf(news, olds.deploymentIds ?? [], done) };
  },

  async delete(_id, props) {
    const client = menderClient();
    // Devices keep what they run; only deployments still under way are stopped.
    for (const id of props.activeDeploymentIds ?? (props.deploymentId ? [props.deploymentId] : [])) {
      const deployment = await client.getDeployment(id).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
      if (deployment && deployment.status !== 'finished') await abortWhole(client, id, 'its resource was deleted');
    }
  },
};
