import { createHash } from 'node:crypto';
import type * as pulumi from '@pulumi/pulumi';
import { isNotFound } from './mender';
import type { MenderClient } from './mender';
import { menderClient } from './settings';
import { RolloutError, watchRollout } from './rollout';
import { MenderDeploymentInputs, MenderDeploymentOutputs } from './types';

const sortedUnique = (values: string[]) => [...new Set(values)].sort();
const minus = (a: string[], b: string[]) => {
  const drop = new Set(b);
  return a.filter((x) => !drop.has(x));
};

/**
 * The Mender deployment name for a set of devices: the same artifact and devices always give
 * the same name, so a create retried after a crash finds the deployment it already made.
 */
export function deploymentName(prefix: string, artifactName: string, devices: string[]): string {
  const digest = createHash('sha256').update(sortedUnique(devices).join('\n')).digest('hex').slice(0, 12);
  return `${prefix}:${artifactName}:${devices.length}:${digest}`;
}

const RUNNING_IMAGE_ATTRIBUTES = ['rootfs-image.version', 'artifact_name'];

/** What each device runs, from one bulk inventory search. Devices unknown to Mender are absent. */
export async function runningImages(client: MenderClient, devices: string[]): Promise<Map<string, string | undefined>> {
  const running = new Map<string, string | undefined>();
  for (let i = 0; i < devices.length; i += 500) {
    const found = await client.searchDevices({
      device_ids: devices.slice(i, i + 500),
      attributes: RUNNING_IMAGE_ATTRIBUTES.map((attribute) => ({ scope: 'inventory' as const, attribute })),
      per_page: 500,
    });
    for (const device of found) {
      const value = RUNNING_IMAGE_ATTRIBUTES.map((name) => device.attributes?.find((a) => a.scope === 'inventory' && a.name === name)?.value).find(
        (v) => typeof v === 'string' && v !== '',
      );
      running.set(device.id, value as string | undefined);
    }
  }
  return running;
}

/** Aborts what is still pending for these devices in other deployments, as the seed's playbook does. */
async function abortPendingElsewhere(client: MenderClient, devices: string[], keep?: string): Promise<void> {
  const wanted = new Set(devices);
  const active = [
    ...(await client.listAllDeployments({ status: 'pending' })),
    ...(await client.listAllDeployments({ status: 'inprogress' })),
  ].filter((d) => d.id !== keep && d.type !== 'configuration');
  const toAbort = new Set<string>();
  for (const deployment of active) {
    for (const device of await client.listDeploymentDevices(deployment.id, { status: 'pending' })) {
      if (wanted.has(device.id)) toAbort.add(device.id);
    }
  }
  await client.mapLimited([...toAbort], (id) => client.abortDeviceDeployments(id, { action: 'aborting its pending deployments' }));
}

/**
 * A deployment already made for exactly this set, that can stand for a new one: still running,
 * or finished with every device now running the artifact.
 */
async function adoptable(client: MenderClient, name: string, artifactName: string, devices: string[]): Promise<string | undefined> {
  const candidates = (await client.findDeploymentsByName(name)).sort((a, b) => b.created.localeCompare(a.created));
  const newest = candidates[0];
  if (!newest) return undefined;
  if (newest.status !== 'finished') return newest.id;
  const running = await runningImages(client, devices);
  return devices.every((id) => running.get(id) === artifactName) ? newest.id : undefined;
}

async function deploy(client: MenderClient, inputs: MenderDeploymentInputs, devices: string[]) {
  const name = deploymentName(inputs.namePrefix, inputs.artifactName, devices);
  let id = await adoptable(client, name, inputs.artifactName, devices);
  if (!id) {
    await abortPendingElsewhere(client, devices);
    ({ id } = await client.createDeployment(
      { name, artifact_name: inputs.artifactName, devices, force_installation: inputs.rollout?.forceInstallation ?? false },
      { artifactName: inputs.artifactName, deploymentName: name },
    ));
  }
  try {
    return { id, ...(await watchRollout(client, id, devices.length, inputs.rollout)) };
  } catch (error) {
    if (error instanceof RolloutError) {
      throw new Error(`${inputs.artifactName} to ${devices.length} device(s): ${error.message}`, { cause: error });
    }
    throw error;
  }
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
    const client = menderClient();
    const result = await deploy(client, inputs, inputs.devices);
    return {
      id: result.id,
      outs: { ...inputs, deploymentIds: [result.id], deploymentId: result.id, status: result.status, statistics: result.statistics, failedDevices: result.failedDevices, outOfSync: [] },
    };
  },

  async read(id, props) {
    const client = menderClient();
    const old = props as MenderDeploymentOutputs;
    let deployment, statistics;
    try {
      [deployment, statistics] = await Promise.all([client.getDeployment(old.deploymentId ?? id), client.getDeploymentStatistics(old.deploymentId ?? id)]);
    } catch (error) {
      // The server no longer knows the deployment (another server, or it was purged): the
      // resource is gone, and the next up deploys again.
      if (isNotFound(error)) return { id: undefined as unknown as string, props: undefined };
      throw error;
    }
    const running = await runningImages(client, old.devices);
    // A device still being updated is converging, not drifted.
    const busy = new Set(
      deployment.status === 'finished' ? [] : (await client.listDeploymentDevices(deployment.id, { status: 'active' })).map((d) => d.id),
    );
    const outOfSync = old.devices.filter((d) => running.has(d) && running.get(d) !== old.artifactName && !busy.has(d));
    return {
      id,
      props: { ...old, status: deployment.status, statistics: Object.fromEntries(Object.entries(statistics).filter(([, n]) => n > 0)), outOfSync },
    };
  },

  async update(_id, olds, news) {
    const client = menderClient();
    const removed = minus(olds.devices, news.devices);
    await client.mapLimited(removed, (id) => client.abortDeviceDeployments(id, { action: 'aborting its pending deployments (removed from the set)' }));
    const targets = sortedUnique([...minus(news.devices, olds.devices), ...(olds.outOfSync ?? []).filter((id) => news.devices.includes(id))]);
    if (targets.length === 0) {
      return { outs: { ...olds, ...news, outOfSync: [] } };
    }
    const result = await deploy(client, news, targets);
    return {
      outs: {
        ...news,
        deploymentIds: [...olds.deploymentIds, result.id],
        deploymentId: result.id,
        status: result.status,
        statistics: result.statistics,
        failedDevices: result.failedDevices,
        outOfSync: [],
      },
    };
  },

  async delete(_id, props) {
    const client = menderClient();
    const deployment = await client.getDeployment(props.deploymentId).catch(() => undefined);
    // Devices keep what they run; only a deployment still under way is stopped.
    if (deployment && deployment.status !== 'finished') {
      await client.abortDeployment(props.deploymentId).catch(() => undefined);
    }
  },
};
