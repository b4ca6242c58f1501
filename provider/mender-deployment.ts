import type * as pulumi from '@pulumi/pulumi';
import { deploymentNamePrefix, longestDeploymentName as longestDeploymentNameOf, MAX_DEPLOYMENT_NAME_LENGTH } from './deployment-name';
import { runningImages } from './mender';
import { isNotFound, PartialFailure } from './protocol';
import { menderClient } from './settings';
import { Health, imageHealth } from '../shared/health';
import { Advanced, advanceRollout, RolloutBreached, RolloutTarget } from './rollout/advance';
import { abortWhole, deviceStatuses } from './rollout/deployments';
import { DEFAULT_POLICY, RolloutPolicy as WavePolicy } from './rollout/policy';
import { isStopped, isUnderWay, RolloutProgress } from './rollout/progress';
import { DEFAULT_TIMEOUT_SECONDS, MenderDeploymentInputs, MenderDeploymentOutputs } from './types';

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

/**
 * The policy the resource rolls out with: the ring's (fleet:rollout), else one wave with the
 * gate and waits its `rollout` names (a stack applied before waves, or a program of its own).
 */
export function policyOf(inputs: MenderDeploymentInputs): WavePolicy {
  if (inputs.policy) return inputs.policy;
  const seconds = inputs.rollout?.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  return {
    ...DEFAULT_POLICY,
    maxFailurePercent: (inputs.rollout?.maxFailureRatio ?? 0) * 100,
    deviceTimeoutMinutes: seconds / 60,
    waitMinutes: inputs.rollout?.waitForCompletion === false ? 0 : seconds / 60,
  };
}

function targetOf(inputs: MenderDeploymentInputs, outOfSync: string[] = []): RolloutTarget {
  return {
    outOfSync,
    artifactName: inputs.artifactName,
    devices: sortedUnique(inputs.devices),
    ring: inputs.namePrefix,
    policy: policyOf(inputs),
    pollMs: Math.max(10, (inputs.rollout?.pollSeconds ?? 2) * 1000),
    devicesPerDeployment: inputs.rollout?.maxDevicesPerDeployment ?? DEFAULT_DEVICES_PER_DEPLOYMENT,
    forceInstallation: inputs.rollout?.forceInstallation ?? false,
    // The dynamic provider host passes its console through to the up's output (pulumi/pulumi#18253).
    report: (line) => console.log(line),
  };
}

function statusOf(progress: RolloutProgress, deployments: number): string {
  if (isStopped(progress)) return 'aborted';
  if (progress.phase === 'done') return deployments === 0 ? 'up-to-date' : 'finished';
  return 'inprogress';
}

function outputsOf(inputs: MenderDeploymentInputs, previous: string[], done: Advanced): MenderDeploymentOutputs {
  const ids = done.deploymentIds;
  return {
    ...inputs,
    deploymentIds: [...new Set([...previous, ...ids, ...(done.upToDateDeploymentId ? [done.upToDateDeploymentId] : [])])],
    deploymentId: ids[ids.length - 1] ?? done.upToDateDeploymentId ?? '',
    activeDeploymentIds: done.activeDeploymentIds,
    // A finished deployment made for exactly this set stands for it (a create retried after the engine lost its answer).
    status: done.upToDateDeploymentId ? 'finished' : statusOf(done.progress, ids.length),
    statistics: done.statistics,
    failedDevices: done.failedDevices,
    alreadyRunning: done.alreadyRunning,
    outOfSync: [],
    // The engine's wire format (protobuf Struct) has no undefined.
    progress: JSON.parse(JSON.stringify(done.progress)) as RolloutProgress,
  };
}

/** Moves the rollout on; a breach fails the step with the rollout recorded where it stopped (protocol.ts). */
async function advance(id: string | undefined, inputs: MenderDeploymentInputs, olds: MenderDeploymentOutputs | undefined): Promise<MenderDeploymentOutputs> {
  const recorded = olds && olds.artifactName === inputs.artifactName ? olds.progress : undefined;
  // Stopped by its gate: the engine retries the update that failed (it recorded init errors),
  // and nothing is sent; the image starts again in this ring only once Git names another.
  if (olds && isStopped(recorded)) return { ...olds, ...inputs, outOfSync: [] };
  try {
    return outputsOf(inputs, olds?.deploymentIds ?? [], await advanceRollout(menderClient(), targetOf(inputs, olds?.outOfSync), recorded));
  } catch (error) {
    if (!(error instanceof RolloutBreached)) throw error;
    const outs = outputsOf(inputs, olds?.deploymentIds ?? [], error.advanced);
    throw new PartialFailure(id ?? outs.deploymentIds[0], outs, [error.message]);
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
    // Stopped by its gate: nothing starts the image again in this ring until Git names another.
    if (isStopped(olds.progress)) return { changes: false };
    const changes =
      // Under way: every up moves it on, so the preview shows the update it will make.
      isUnderWay(olds.progress) ||
      JSON.stringify(olds.devices) !== JSON.stringify(news.devices) ||
      (olds.outOfSync ?? []).some((id) => news.devices.includes(id)) ||
      JSON.stringify(olds.rollout ?? {}) !== JSON.stringify(news.rollout ?? {}) ||
      JSON.stringify(olds.policy ?? {}) !== JSON.stringify(news.policy ?? {}) ||
      olds.namePrefix !== news.namePrefix;
    return { changes };
  },

  async create(inputs) {
    const outs = await advance(undefined, inputs, undefined);
    // A set that needed no deployment still is one resource: it is named by what it stands for.
    return { id: outs.deploymentIds[0] ?? `${namePrefixOf(inputs)}up-to-date`, outs };
  },

  async read(id, props) {
    const client = menderClient();
    const old = props as MenderDeploymentOutputs;
    // A stopped rollout leaves devices on the image they had: that is what it recorded, not drift.
    if (isStopped(old.progress)) return { id, props: { ...old, outOfSync: [] } };
    // Each device's image health (shared/health.ts) against its record in the rollout's
    // deployments: one still on its way (polled or not) is pending, one that failed is failed,
    // neither is drift; a device waiting for its wave is pending too. The records are read
    // before what devices run: a device only leaves a deployment by finishing, so the other
    // order could miss one in between.
    const parts = old.progress ? old.progress.waves.flatMap((w) => w.parts) : [];
    const ids = parts.length > 0 ? parts.map((p) => p.deploymentId) : (old.activeDeploymentIds ?? (old.deploymentId ? [old.deploymentId] : []));
    const open: string[] = [];
    for (const deploymentId of ids) {
      try {
        if ((await client.getDeployment(deploymentId)).status !== 'finished') open.push(deploymentId);
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    const statuses = await deviceStatuses(client, ids);
    // Devices of an open deployment that have not polled have no record yet: on their way.
    for (const deploymentId of open) for (const d of await client.getDeploymentDeviceList(deploymentId)) if (!statuses.has(d)) statuses.set(d, 'pending');
    const started = new Set(parts.flatMap((p) => p.devices));
    const running = await runningImages(client, old.devices);
    const health = (d: string): Health => {
      if (isUnderWay(old.progress) && !started.has(d)) return 'pending';
      const status = statuses.get(d);
      return imageHealth(old.artifactName, running.get(d), status ? { artifact: old.artifactName, status } : undefined);
    };
    const outOfSync = old.devices.filter((d) => running.has(d) && health(d) === 'drifted');
    return { id, props: { ...old, status: open.length > 0 ? 'inprogress' : old.status, outOfSync } };
  },

  async update(id, olds, news) {
    return { outs: await advance(id, news, olds) };
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
