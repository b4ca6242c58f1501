import * as pulumi from '@pulumi/pulumi';
import { DeviceConfiguration, ImageRelease, MenderDeployment } from '../provider/resources';
import type { RolloutPolicy } from '../provider/types';
import { Plan } from './plan';

export interface DeviceSummary {
  group: string;
  ring: string;
  ringSource: string;
  deviceType: string;
  desiredImage: string;
  configurationHash: string | null;
}

/**
 * Declares the plan as resources, named in the fleet's terms so that `pulumi preview` reads as
 * a fleet plan: images and deployments by image name, configurations by device id.
 */
export function declareFleet(plan: Plan, rollout: RolloutPolicy): Record<string, DeviceSummary> {
  const images = new Map<string, ImageRelease>();
  for (const image of plan.images) {
    images.set(image.name, new ImageRelease(image.name, { artifactName: image.name, deviceTypes: image.deviceTypes }));
  }
  const deploymentOf = new Map<string, MenderDeployment>();
  for (const deployment of plan.deployments) {
    const resource = new MenderDeployment(
      deployment.image,
      { artifactName: deployment.image, devices: deployment.devices, namePrefix: plan.ring, rollout },
      { dependsOn: [images.get(deployment.image)!] },
    );
    for (const device of deployment.devices) deploymentOf.set(device, resource);
  }
  for (const device of plan.devices) {
    if (!device.configuration) continue;
    const secret = new Set(device.configuration.secretKeys);
    const entries = Object.entries(device.configuration.values);
    new DeviceConfiguration(device.id, {
      deviceId: device.id,
      values: Object.fromEntries(entries.filter(([key]) => !secret.has(key))),
      secretValues: pulumi.secret(Object.fromEntries(entries.filter(([key]) => secret.has(key)))),
      timeoutSeconds: rollout.timeoutSeconds,
    }, {
      // After the device's OS deployment: Mender hands a device its deployments oldest first,
      // and a configuration is meant for the image the device is to run.
      dependsOn: deploymentOf.has(device.id) ? [deploymentOf.get(device.id)!] : [],
    });
  }
  return Object.fromEntries(
    plan.devices.map((d) => [
      d.id,
      {
        group: d.group,
        ring: d.ring,
        ringSource: d.ringSource,
        deviceType: d.deviceType,
        desiredImage: d.desiredImage,
        configurationHash: d.configuration?.hash ?? null,
      },
    ]),
  );
}
