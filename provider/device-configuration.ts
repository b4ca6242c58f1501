import type * as pulumi from '@pulumi/pulumi';
import { isNotFound } from './mender';
import type { MenderClient } from './mender';
import { menderClient } from './settings';
import { DeviceConfigurationInputs, DeviceConfigurationOutputs } from './types';

const DEFAULT_TIMEOUT_SECONDS = 300;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function desired(inputs: DeviceConfigurationInputs): Record<string, string> {
  return { ...inputs.values, ...inputs.secretValues };
}

/** Keys whose value differs between two configurations (either side missing counts). */
export function differingKeys(want: Record<string, string>, have: Record<string, string>): string[] {
  return [...new Set([...Object.keys(want), ...Object.keys(have)])].filter((k) => want[k] !== have[k]).sort();
}

/** Mender's limit of keys per device (deviceconfig model/attribute.go; more fail with a 500). */
export const MAX_CONFIGURATION_KEYS = 100;

/**
 * Waits until the device itself reports the configuration (only its own report changes
 * `reported`). The deployment is made by Mender's workflows service after deploy has answered,
 * so its statistics are a 404 for a while; that is waited out too.
 */
async function waitForReport(client: MenderClient, inputs: DeviceConfigurationInputs, deploymentId: string): Promise<void> {
  const timeoutSeconds = inputs.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const deadline = Date.now() + timeoutSeconds * 1000;
  const want = desired(inputs);
  let deploymentSeen = false;
  for (;;) {
    const state = await client.getDeviceConfiguration(inputs.deviceId);
    if (differingKeys(want, state.reported).length === 0) return;
    try {
      const statistics = await client.getDeploymentStatistics(deploymentId);
      deploymentSeen = true;
      if ((statistics.failure ?? 0) > 0) {
        throw new Error(`device ${inputs.deviceId} failed to apply its configuration (deployment ${deploymentId}); see the deployment log in Mender`);
      }
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        deploymentSeen
          ? `device ${inputs.deviceId} has not reported its new configuration within ${timeoutSeconds}s (deployment ${deploymentId}); is it online?`
          : `the configuration deployment ${deploymentId} for device ${inputs.deviceId} did not appear in Mender within ${timeoutSeconds}s; is Mender's workflows service running?`,
      );
    }
    await sleep(250);
  }
}

async function apply(inputs: DeviceConfigurationInputs, previousDeploymentId?: string): Promise<DeviceConfigurationOutputs> {
  const client = menderClient();
  const want = desired(inputs);
  const state = await client.getDeviceConfiguration(inputs.deviceId).catch((error: unknown) => {
    if (isNotFound(error)) return undefined;
    throw error;
  });
  // Already configured and reported as wanted (a fleet that was configured before, a retried
  // create): nothing is sent to the device.
  if (state && differingKeys(want, state.configured).length === 0 && differingKeys(want, state.reported).length === 0) {
    return { ...inputs, deploymentId: previousDeploymentId ?? state.deployment_id ?? '', inSync: true, driftedKeys: [] };
  }
  await client.setDeviceConfiguration(inputs.deviceId, want, { deviceId: inputs.deviceId });
  const { deployment_id: deploymentId } = await client.deployDeviceConfiguration(inputs.deviceId, {}, { deviceId: inputs.deviceId });
  if (inputs.waitForReport !== false) await waitForReport(client, inputs, deploymentId);
  return { ...inputs, deploymentId, inSync: inputs.waitForReport !== false, driftedKeys: [] };
}

export const deviceConfiguration: pulumi.dynamic.ResourceProvider<DeviceConfigurationInputs, DeviceConfigurationOutputs> = {
  async check(_olds, news) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!news.deviceId) failures.push({ property: 'deviceId', reason: 'a Mender device id is required' });
    for (const [key, value] of Object.entries({ ...news.values, ...news.secretValues })) {
      if (typeof value !== 'string') failures.push({ property: 'values', reason: `configuration key ${key} must be a string (Mender's configuration is a map of strings)` });
    }
    const keyCount = Object.keys({ ...news.values, ...news.secretValues }).length;
    if (keyCount > MAX_CONFIGURATION_KEYS) {
      failures.push({ property: 'values', reason: `device ${news.deviceId} would get ${keyCount} configuration keys and Mender accepts at most ${MAX_CONFIGURATION_KEYS}: merge keys (for example into one JSON value)` });
    }
    const overlap = Object.keys(news.values ?? {}).filter((k) => k in (news.secretValues ?? {}));
    if (overlap.length > 0) failures.push({ property: 'secretValues', reason: `keys ${overlap.join(', ')} are both plain and secret` });
    return { inputs: { ...news, values: news.values ?? {}, secretValues: news.secretValues ?? {} }, failures };
  },

  async diff(_id, olds, news) {
    if (olds.deviceId !== news.deviceId) return { changes: true, replaces: ['deviceId'] };
    const changes =
      differingKeys(olds.values ?? {}, news.values).length > 0 ||
      differingKeys(olds.secretValues ?? {}, news.secretValues).length > 0 ||
      (olds.driftedKeys ?? []).length > 0 ||
      Boolean(olds.clearOnDelete) !== Boolean(news.clearOnDelete);
    return { changes };
  },

  async create(inputs) {
    return { id: inputs.deviceId, outs: await apply(inputs) };
  },

  async read(id, props) {
    const old = props as DeviceConfigurationOutputs;
    let state;
    try {
      state = await menderClient().getDeviceConfiguration(old.deviceId ?? id);
    } catch (error) {
      if (isNotFound(error)) return { id: undefined as unknown as string, props: undefined };
      throw error;
    }
    const want = desired(old);
    // Drift is what the device reports, or what someone configured by hand, differing from Git.
    const driftedKeys = [...new Set([...differingKeys(want, state.reported), ...differingKeys(want, state.configured)])].sort();
    return { id, props: { ...old, inSync: driftedKeys.length === 0, driftedKeys } };
  },

  async update(_id, olds, news) {
    if (!differingKeys({ ...olds.values, ...olds.secretValues }, desired(news)).length && !(olds.driftedKeys ?? []).length) {
      return { outs: { ...olds, ...news } };
    }
    return { outs: await apply(news, olds.deploymentId) };
  },

  async delete(_id, props) {
    if (!props.clearOnDelete) return;
    const client = menderClient();
    const context = { deviceId: props.deviceId, action: 'clearing its configuration' };
    await client.setDeviceConfiguration(props.deviceId, {}, context);
    // Only a deployment takes the cleared configuration (and the secrets in it) off the device.
    await client.deployDeviceConfiguration(props.deviceId, {}, context);
  },
};
