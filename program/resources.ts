// The resource classes the program declares (they run in the program's process); what each
// does lives in the provider's implementations (provider/implementations.ts), which Pulumi runs
// in the dynamic provider's process through provider/serialized-provider.ts.
import type { RolloutProgress } from '../provider/rollout/progress';
import * as pulumi from '@pulumi/pulumi';
import { providerFor } from '../provider/serialized-provider';
import type { ConfiguredDevice, DeviceConfigurationInputs, DeviceConfigurationSetInputs, ImageReleaseInputs, MenderDeploymentInputs, RolloutPolicy, StatusCounts } from '../provider/types';

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/** An OS image (Mender artifact) that the fleet may deploy. */
export class ImageRelease extends pulumi.dynamic.Resource {
  declare readonly artifactName: pulumi.Output<string>;
  declare readonly artifactIds: pulumi.Output<string[]>;
  declare readonly size: pulumi.Output<number>;
  declare readonly checksum: pulumi.Output<string>;
  declare readonly compatibleDeviceTypes: pulumi.Output<string[]>;
  declare readonly uploaded: pulumi.Output<boolean>;

  constructor(name: string, args: Inputs<ImageReleaseInputs>, opts?: pulumi.CustomResourceOptions) {
    super(providerFor('ImageRelease'), name, { artifactIds: undefined, size: undefined, checksum: undefined, compatibleDeviceTypes: undefined, uploaded: undefined, ...args }, opts, 'mender', 'ImageRelease');
  }
}

/** "These devices run this artifact": one Mender deployment per set, watched to the end. */
export class MenderDeployment extends pulumi.dynamic.Resource {
  declare readonly artifactName: pulumi.Output<string>;
  declare readonly devices: pulumi.Output<string[]>;
  declare readonly deploymentId: pulumi.Output<string>;
  declare readonly deploymentIds: pulumi.Output<string[]>;
  declare readonly status: pulumi.Output<string>;
  declare readonly statistics: pulumi.Output<StatusCounts>;
  declare readonly failedDevices: pulumi.Output<string[]>;
  declare readonly outOfSync: pulumi.Output<string[]>;
  /** Where the rollout stands (waves, gate, how it ended); undefined for a stack applied before waves. */
  declare readonly progress: pulumi.Output<RolloutProgress | undefined>;

  constructor(name: string, args: Inputs<Omit<MenderDeploymentInputs, 'rollout'>> & { rollout?: pulumi.Input<RolloutPolicy> }, opts?: pulumi.CustomResourceOptions) {
    super(
      providerFor('MenderDeployment'),
      name,
      { deploymentId: undefined, deploymentIds: undefined, status: undefined, statistics: undefined, failedDevices: undefined, outOfSync: undefined, progress: undefined, ...args },
      opts,
      'mender',
      'MenderDeployment',
    );
  }
}

/** The Mender configure add-on's configuration of one device. */
export class DeviceConfiguration extends pulumi.dynamic.Resource {
  declare readonly deviceId: pulumi.Output<string>;
  declare readonly values: pulumi.Output<Record<string, string>>;
  declare readonly deploymentId: pulumi.Output<string>;
  declare readonly inSync: pulumi.Output<boolean>;
  declare readonly driftedKeys: pulumi.Output<string[]>;

  constructor(name: string, args: Inputs<DeviceConfigurationInputs>, opts?: pulumi.CustomResourceOptions) {
    super(
      providerFor('DeviceConfiguration'),
      name,
      { deploymentId: undefined, inSync: undefined, driftedKeys: undefined, ...args, secretValues: pulumi.secret(args.secretValues) },
      // Secret values stay encrypted in state and masked in every output.
      { ...opts, additionalSecretOutputs: ['secretValues'] },
      'mender',
      'DeviceConfiguration',
    );
  }
}

/**
 * The configurations of many devices (one group, one template) as one resource: a stack's
 * resources grow with groups and templates, not devices, while diffs, outputs and errors stay per
 * device. Each device's secret values are a secret of their own, so a preview shows which
 * device's secrets change without showing them.
 */
export class DeviceConfigurationSet extends pulumi.dynamic.Resource {
  declare readonly devices: pulumi.Output<Record<string, ConfiguredDevice>>;
  declare readonly deploymentIds: pulumi.Output<Record<string, string>>;
  declare readonly drifted: pulumi.Output<Record<string, string[]>>;
  declare readonly failed: pulumi.Output<Record<string, string>>;
  declare readonly inSync: pulumi.Output<boolean>;

  constructor(
    name: string,
    args: Inputs<Omit<DeviceConfigurationSetInputs, 'devices'>> & { devices: Record<string, { values: Record<string, string>; secretValues?: pulumi.Input<Record<string, string>> }> },
    opts?: pulumi.CustomResourceOptions,
  ) {
    super(
      providerFor('DeviceConfigurationSet'),
      name,
      { deploymentIds: undefined, drifted: undefined, failed: undefined, inSync: undefined, ...args },
      opts,
      'mender',
      'DeviceConfigurationSet',
    );
  }
}
