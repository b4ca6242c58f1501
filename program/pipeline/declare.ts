import { createHash } from 'node:crypto';
import { all, Output, secret } from '@pulumi/pulumi/output';
import { DeviceConfigurationSet, ImageRelease, MenderDeployment } from '../resources';
import type { RolloutPolicy } from '../../provider/types';
import type { RolloutPolicy as WavePolicy } from '../../provider/rollout/policy';
import { Plan, PlannedConfiguration, PlannedDevice } from './plan';

export interface DeviceSummary {
  group: string;
  ring: string;
  ringSource: string;
  deviceType: string;
  desiredImage: string;
  configurationHash: string | null;
  /**
   * The configuration's secret keys (their values are not in the hash), so that `fleet status`
   * can hash what Mender holds and compare it with Git's. Absent when the device is not configured,
   * and in the outputs of stacks applied before it was recorded.
   */
  configurationSecretKeys?: string[];
}

export interface ConfigurationBatch {
  /** The resource name: "<group>/<template>", with "#<shard>" when the pair is split. */
  name: string;
  group: string;
  template: string;
  /** "<i>/<n>" when split. */
  shard?: string;
  devices: PlannedDevice[];
}

/** Devices per DeviceConfigurationSet before a (group, template) pair is split (docs/performance.md, "Why configuration sets"). */
export const DEVICES_PER_SET = 1000;

/** A stable number per device id, so a device keeps its shard while others come and go. */
function shardKey(id: string): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0);
}

/**
 * The configured devices of the plan, one batch per (Ansible group, template): the unit a person
 * thinks in ("the kiosks of the lab"), and few per stack. A pair with more than `perSet` devices
 * is split into a power of two of shards by a hash of the device id, so that doubling the shards
 * splits each one in two and a device only ever moves to its shard's new sibling. Sorted, so the
 * program declares the same resources in the same order every run.
 */
export function configurationBatches(plan: Plan, perSet = DEVICES_PER_SET): ConfigurationBatch[] {
  const pairs = new Map<string, { group: string; template: string; devices: PlannedDevice[] }>();
  for (const device of plan.devices) {
    if (!device.configuration) continue;
    const key = JSON.stringify([device.group, device.configuration.template]);
    if (!pairs.has(key)) pairs.set(key, { group: device.group, template: device.configuration.template, devices: [] });
    pairs.get(key)!.devices.push(device);
  }
  const batches: ConfigurationBatch[] = [];
  for (const pair of [...pairs.values()].sort((a, b) => a.group.localeCompare(b.group) || a.template.localeCompare(b.template))) {
    const devices = [...pair.devices].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    let shards = 1;
    while (devices.length / shards > perSet) shards *= 2;
    const base = `${pair.group}/${pair.template}`;
    if (shards === 1) {
      batches.push({ name: base, group: pair.group, template: pair.template, devices });
      continue;
    }
    const split = Array.from({ length: shards }, () => [] as PlannedDevice[]);
    for (const device of devices) split[shardKey(device.id) % shards].push(device);
    split.forEach((part, i) => {
      if (part.length > 0) batches.push({ name: `${base}#${i + 1}/${shards}`, group: pair.group, template: pair.template, shard: `${i + 1}/${shards}`, devices: part });
    });
  }
  return batches;
}

/** Plain keys in the clear; secret keys as one secret per device, so a preview names the device but not the values. */
function configuredDevice(configuration: PlannedConfiguration): { values: Record<string, string>; secretValues?: Output<Record<string, string>> } {
  const secretKeys = new Set(configuration.secretKeys);
  const entries = Object.entries(configuration.values);
  const values = Object.fromEntries(entries.filter(([key]) => !secretKeys.has(key)));
  if (secretKeys.size === 0) return { values };
  return { values, secretValues: secret(Object.fromEntries(entries.filter(([key]) => secretKeys.has(key)))) };
}

/**
 * Declares the plan as resources, named in the fleet's terms so that `pulumi preview` reads as
 * a fleet plan: images and deployments by image name, configurations by group and template.
 */
export interface DeclaredFleet {
  devices: Record<string, DeviceSummary>;
  /** Image → where its rollout in the ring stands once the update is done ('waiting', 'soaking', 'paused', 'done', …). */
  rollouts: Output<Record<string, string>>;
}

export function declareFleet(plan: Plan, rollout: RolloutPolicy, options: { devicesPerSet?: number; policy?: WavePolicy } = {}): DeclaredFleet {
  const images = new Map<string, ImageRelease>();
  for (const image of plan.images) {
    images.set(image.name, new ImageRelease(image.name, { artifactName: image.name, deviceTypes: image.deviceTypes }));
  }
  const deploymentOf = new Map<string, MenderDeployment>();
  const rollouts: Output<[string, string]>[] = [];
  for (const deployment of plan.deployments) {
    const resource = new MenderDeployment(
      deployment.image,
      { artifactName: deployment.image, devices: deployment.devices, namePrefix: plan.ring, rollout, ...(options.policy ? { policy: options.policy } : {}) },
      { dependsOn: [images.get(deployment.image)!] },
    );
    rollouts.push(resource.progress.apply((progress) => [deployment.image, progress?.phase ?? 'done'] as [string, string]));
    for (const device of deployment.devices) deploymentOf.set(device, resource);
  }
  for (const batch of configurationBatches(plan, options.devicesPerSet)) {
    const dependsOn = [...new Set(batch.devices.flatMap((d) => (deploymentOf.has(d.id) ? [deploymentOf.get(d.id)!] : [])))];
    new DeviceConfigurationSet(
      batch.name,
      {
        group: batch.group,
        template: batch.template,
        ...(batch.shard ? { shard: batch.shard } : {}),
        devices: Object.fromEntries(batch.devices.map((device) => [device.id, configuredDevice(device.configuration!)])),
        timeoutSeconds: options.policy ? options.policy.waitMinutes * 60 : rollout.timeoutSeconds,
      },
      // After the devices' OS deployments: Mender hands a device its deployments oldest first,
      // and a configuration is meant for the image the device is to run.
      { dependsOn },
    );
  }
  const devices = Object.fromEntries(
    plan.devices.map((d) => [
      d.id,
      {
        group: d.group,
        ring: d.ring,
        ringSource: d.ringSource,
        deviceType: d.deviceType,
        desiredImage: d.desiredImage,
        configurationHash: d.configuration?.hash ?? null,
        ...(d.configuration ? { configurationSecretKeys: d.configuration.secretKeys } : {}),
      },
    ]),
  );
  return { devices, rollouts: all(rollouts).apply((entries) => Object.fromEntries(entries)) };
}
