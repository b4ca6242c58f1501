// The resource classes the program declares (they run in the program's process); what each
// does lives in the provider's implementations (provider/implementations.ts), which Pulumi's
// dynamic provider host runs in its own process through provider/serialized-provider.ts.
import type { RolloutProgress } from '../provider/rollout/progress';
import { Input, Inputs as PulumiInputs, Output, secret } from '@pulumi/pulumi/output';
import { CustomResource, CustomResourceOptions } from '@pulumi/pulumi/resource';
import { providerSource, ResourceKind } from '../provider/serialized-provider';
import type { ConfiguredDevice, DeviceConfigurationInputs, DeviceConfigurationSetInputs, ImageReleaseInputs, MenderDeploymentInputs, RolloutPolicy, StatusCounts } from '../provider/types';

type Inputs<T> = { [K in keyof T]: Input<T[K]> };

const sources = new Map<ResourceKind, string>();

/**
 * What `pulumi.dynamic.Resource` declares (the type `pulumi-nodejs:dynamic/mender:<kind>`, the
 * provider's code in `__provider`), with that code given as text instead of serialized from a
 * closure on every run.
 */
abstract class DynamicResource extends CustomResource {
  constructor(kind: ResourceKind, name: string, props: PulumiInputs, opts?: CustomResourceOptions) {
    if (!sources.has(kind)) sources.set(kind, providerSource(kind));
    super(`pulumi-nodejs:dynamic/mender:${kind}`, name, { ...props, __provider: sources.get(kind) }, opts);
  }
}

/** An OS image (Mender artifact) that the fleet may deploy. */
export class ImageRelease extends DynamicResource {
  declare readonly artifactName: Output<string>;
  declare readonly artifactIds: Output<string[]>;
  declare readonly size: Output<number>;
  declare readonly checksum: Output<string>;
  declare readonly compatibleDeviceTypes: Output<string[]>;
  declare readonly uploaded: Output<boolean>;

  constructor(name: string, args: Inputs<ImageReleaseInputs>, opts?: CustomResourceOptions) {
    super('ImageRelease', name, { artifactIds: undefined, size: undefined, checksum: undefined, compatibleDeviceTypes: undefined, uploaded: undefined, ...args }, opts);
  }
}

/** "These devices run this artifact": one Mender deployment per set, watched to the end. */
export class MenderDeployment extends DynamicResource {
  declare readonly artifactName: Output<string>;
  declare readonly devices: Output<string[]>;
  declare readonly deploymentId: Output<string>;
  declare readonly deploymentIds: Output<string[]>;
  declare readonly status: Output<string>;
  declare readonly statistics: Output<StatusCounts>;
  declare readonly failedDevices: Output<string[]>;
  declare readonly outOfSync: Output<string[]>;
  /** Where the rollout stands (waves, gate, how it ended); undefined for a stack applied before waves. */
  declare readonly progress: Output<RolloutProgress | undefined>;

  constructor(name: string, args: Inputs<Omit<MenderDeploymentInputs, 'rollout'>> & { rollout?: Input<RolloutPolicy> }, opts?: CustomResourceOptions) {
    super(
      'MenderDeployment',
      name,
      { deploymentId: undefined, deploymentIds: undefined, status: undefined, statistics: undefined, failedDevices: undefined, outOfSync: undefined, progress: undefined, ...args },
      opts,
    );
  }
}

/** The Mender configure add-on's configuration of one device. */
export class DeviceConfiguration extends DynamicResource {
  declare readonly deviceId: Output<string>;
  declare readonly values: Output<Record<string, string>>;
  declare readonly deploymentId: Output<string>;
  declare readonly inSync: Output<boolean>;
  declare readonly driftedKeys: Output<string[]>;

  constructor(name: string, args: Inputs<DeviceConfigurationInputs>, opts?: CustomResourceOptions) {
    super(
      'DeviceConfiguration',
      name,
      { deploymentId: undefined, inSync: undefined, driftedKeys: undefined, ...args, secretValues: secret(args.secretValues) },
      // Secret values stay encrypted in state and masked in every output.
      { ...opts, additionalSecretOutputs: ['secretValues'] },
    );
  }
}

/**
 * The configurations of many devices (one group, one template) as one resource: a stack's
 * resources grow with groups and templates, not devices, while diffs, outputs and errors stay per
 * device. Each device's secret values are a secret of their own, so a preview shows which
 * device's secrets change without showing them.
 */
export class DeviceConfigurationSet extends DynamicResource {
  declare readonly devices: Output<Record<string, ConfiguredDevice>>;
  declare readonly deploymentIds: Output<Record<string, string>>;
  declare readonly drifted: Output<Record<string, string[]>>;
  declare readonly failed: Output<Record<string, string>>;
  declare readonly inSync: Output<boolean>;

  constructor(
    name: string,
    args: Inputs<Omit<DeviceConfigurationSetInputs, 'devices'>> & { devices: Record<string, { values: Record<string, string>; secretValues?: Input<Record<string, string>> }> },
    opts?: CustomResourceOptions,
  ) {
    super(
      'DeviceConfigurationSet',
      name,
      { deploymentIds: undefined, drifted: undefined, failed: undefined, inSync: undefined, ...args },
      opts,
    );
  }
}
