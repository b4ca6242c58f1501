import type * as pulumi from '@pulumi/pulumi';
import { clearConfigurations, configurationProblems, desired, rollOutConfigurations } from './configuration-rollout';
import { configurationHealth, differingKeys, driftedKeys, isConfiguration } from '../shared/health';
import { deviceConfigurations } from './mender/observed';
import { gone } from './protocol';
import { menderClient } from './settings';
import { DeviceConfigurationInputs, DeviceConfigurationOutputs } from './types';

async function apply(inputs: DeviceConfigurationInputs, previousDeploymentId?: string): Promise<DeviceConfigurationOutputs> {
  const rollout = await rollOutConfigurations(menderClient(), new Map([[inputs.deviceId, desired(inputs)]]), {
    waitForReport: inputs.waitForReport,
    timeoutSeconds: inputs.timeoutSeconds,
  });
  const failure = rollout.failed.get(inputs.deviceId);
  if (failure) throw new Error(failure);
  // Already configured and reported as wanted (a fleet configured before, a retried create):
  // nothing was sent to the device.
  if (rollout.unchanged.has(inputs.deviceId)) {
    return { ...inputs, deploymentId: previousDeploymentId ?? rollout.deploymentIds.get(inputs.deviceId) ?? '', inSync: true, driftedKeys: [] };
  }
  return { ...inputs, deploymentId: rollout.deploymentIds.get(inputs.deviceId)!, inSync: inputs.waitForReport !== false, driftedKeys: [] };
}

export const deviceConfiguration: pulumi.dynamic.ResourceProvider<DeviceConfigurationInputs, DeviceConfigurationOutputs> = {
  async check(_olds, news) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!news.deviceId) failures.push({ property: 'deviceId', reason: 'a Mender device id is required' });
    failures.push(...configurationProblems(news.deviceId, news.values ?? {}, news.secretValues ?? {}));
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
    const device = old.deviceId ?? id;
    const state = (await deviceConfigurations(menderClient(), [device])).get(device);
    if (state instanceof Error) throw state;
    if (state === undefined) return gone();
    const want = desired(old);
    return { id, props: { ...old, inSync: configurationHealth(state, isConfiguration(want)) === 'in sync', driftedKeys: driftedKeys(want, state) } };
  },

  async update(_id, olds, news) {
    if (!differingKeys({ ...olds.values, ...olds.secretValues }, desired(news)).length && !(olds.driftedKeys ?? []).length) {
      return { outs: { ...olds, ...news } };
    }
    return { outs: await apply(news, olds.deploymentId) };
  },

  async delete(_id, props) {
    if (props.clearOnDelete) await clearConfigurations(menderClient(), [props.deviceId]);
  },
};
