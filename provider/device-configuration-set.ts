// DeviceConfigurationSet: the configurations of many devices (one Ansible group, one template) as
// one Pulumi resource, so that a stack's resources grow with groups and templates, not with
// devices. Everything a person sees stays per device: the inputs are a map keyed by device id (the
// engine's diff names the devices and keys that change), messages and outputs name devices, and
// one device's failure fails the set without undoing or stopping the others.
import type * as pulumi from '@pulumi/pulumi';
import { clearConfigurations, configurationProblems, desired, rollOutConfigurations } from './configuration-rollout';
import { PartialFailure } from './protocol';
import { deviceConfigurations } from './mender/observed';
import { configurationHealth, differingKeys, driftedKeys, isConfiguration } from '../shared/health';
import { nameAFew } from '../shared/name-a-few';
import { menderClient } from './settings';
import type { ConfiguredDevice, DeviceConfigurationSetInputs, DeviceConfigurationSetOutputs } from './types';

/** Reasons the engine prints for a partly failed set; the outputs hold every failed device. */
const REASONS_SHOWN = 20;

export function setId(inputs: Pick<DeviceConfigurationSetInputs, 'group' | 'template' | 'shard'>): string {
  return `${inputs.group}/${inputs.template}${inputs.shard ? `#${inputs.shard}` : ''}`;
}

/**
 * Devices of the set whose configuration an update must send: new to the set, changed in Git,
 * drifted in Mender (found by read), or failed last time.
 */
export function devicesToApply(olds: Partial<DeviceConfigurationSetOutputs>, news: DeviceConfigurationSetInputs): string[] {
  const before = olds.devices ?? {};
  return Object.keys(news.devices)
    .filter((id) => !(id in before) || differingKeys(desired(before[id]), desired(news.devices[id])).length > 0 || id in (olds.drifted ?? {}) || id in (olds.failed ?? {}))
    .sort();
}

/** Devices that leave the set. */
export function devicesLeaving(olds: Partial<DeviceConfigurationSetOutputs>, news: DeviceConfigurationSetInputs): string[] {
  return Object.keys(olds.devices ?? {})
    .filter((id) => !(id in news.devices))
    .sort();
}

/**
 * Some devices failed: the devices that were configured are recorded in the state
 * (protocol.ts, PartialFailure) and the next update retries only the others.
 */
function devicesFailed(id: string, properties: DeviceConfigurationSetOutputs): PartialFailure<DeviceConfigurationSetOutputs> {
  const failed = Object.keys(properties.failed).sort();
  const total = Object.keys(properties.devices).length;
  const summary = `configuration set ${id}: ${failed.length} of ${total} device(s) not configured: ${nameAFew(failed)}; the others are configured, and the next up retries these`;
  const reasons = [summary, ...failed.slice(0, REASONS_SHOWN).map((device) => properties.failed[device])];
  if (failed.length > REASONS_SHOWN) reasons.push(`and ${(failed.length - REASONS_SHOWN).toLocaleString('en')} more (the set's output "failed" names every device)`);
  return new PartialFailure(id, properties, reasons);
}

async function apply(news: DeviceConfigurationSetInputs, olds: Partial<DeviceConfigurationSetOutputs>): Promise<DeviceConfigurationSetOutputs> {
  const toApply = devicesToApply(olds, news);
  const leaving = devicesLeaving(olds, news);
  if (olds.clearOnDelete && leaving.length > 0) await clearConfigurations(menderClient(), leaving);
  const rollout = await rollOutConfigurations(menderClient(), new Map(toApply.map((id) => [id, desired(news.devices[id])])), {
    waitForReport: news.waitForReport,
    timeoutSeconds: news.timeoutSeconds,
  });
  const deploymentIds: Record<string, string> = {};
  for (const id of Object.keys(news.devices).sort()) {
    const deploymentId = rollout.deploymentIds.get(id) ?? olds.deploymentIds?.[id];
    if (deploymentId) deploymentIds[id] = deploymentId;
  }
  const failed = Object.fromEntries([...rollout.failed].sort(([a], [b]) => a.localeCompare(b)));
  const outs: DeviceConfigurationSetOutputs = {
    ...news,
    deploymentIds,
    drifted: {},
    failed,
    inSync: rollout.failed.size === 0 && news.waitForReport !== false,
  };
  if (rollout.failed.size > 0) throw devicesFailed(setId(news), outs);
  return outs;
}

export const deviceConfigurationSet: pulumi.dynamic.ResourceProvider<DeviceConfigurationSetInputs, DeviceConfigurationSetOutputs> = {
  async check(_olds, news) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!news.group) failures.push({ property: 'group', reason: 'the group of the set is required' });
    if (!news.template) failures.push({ property: 'template', reason: 'the template of the set is required' });
    const devices: Record<string, ConfiguredDevice> = {};
    for (const [id, device] of Object.entries(news.devices ?? {})) {
      const values = device?.values ?? {};
      const secretValues = device?.secretValues ?? {};
      for (const { reason } of configurationProblems(id, values, secretValues)) failures.push({ property: 'devices', reason });
      devices[id] = Object.keys(secretValues).length > 0 ? { values, secretValues } : { values };
    }
    return { inputs: { ...news, devices }, failures };
  },

  async diff(_id, olds, news) {
    if (olds.group !== news.group || olds.template !== news.template) return { changes: true, replaces: olds.group !== news.group ? ['group'] : ['template'] };
    const changes = devicesToApply(olds, news).length > 0 || devicesLeaving(olds, news).length > 0 || Boolean(olds.clearOnDelete) !== Boolean(news.clearOnDelete);
    return { changes };
  },

  async create(inputs) {
    return { id: setId(inputs), outs: await apply(inputs, {}) };
  },

  async read(id, props) {
    const old = props as DeviceConfigurationSetOutputs;
    const ids = Object.keys(old.devices ?? {}).sort();
    const states = await deviceConfigurations(menderClient(), ids);
    const drifted: Record<string, string[]> = {};
    for (const device of ids) {
      const state = states.get(device);
      if (state instanceof Error) throw state;
      const want = desired(old.devices[device]);
      if (configurationHealth(state, isConfiguration(want)) === 'in sync') continue;
      // A device deviceconfig knows nothing of has every key to send.
      drifted[device] = state ? driftedKeys(want, state) : Object.keys(want).sort();
    }
    return { id, props: { ...old, drifted, inSync: Object.keys(drifted).length === 0 && Object.keys(old.failed ?? {}).length === 0 } };
  },

  async update(_id, olds, news) {
    return { outs: await apply(news, olds) };
  },

  async delete(_id, props) {
    if (props.clearOnDelete) await clearConfigurations(menderClient(), Object.keys(props.devices ?? {}).sort());
  },
};
