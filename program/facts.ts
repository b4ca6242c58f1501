import { inventoryAttributes, RUNNING_ARTIFACT_ATTRIBUTE } from '../provider/mender/observed';
import type { MenderClient } from '../provider/mender';
import { ArtifactFacts, DeviceFacts, FleetFacts } from './plan';

const ATTRIBUTES = ['device_type', RUNNING_ARTIFACT_ATTRIBUTE, 'subscribed_branch'] as const;

/**
 * What Mender knows about the fleet's devices and images, read in bulk: one paged inventory
 * search per 500 devices and one artifact listing. Reads only, so preview stays side-effect free.
 */
export async function gatherFacts(client: MenderClient, deviceIds: string[]): Promise<FleetFacts> {
  const devices = new Map<string, DeviceFacts>();
  for (const [id, values] of await inventoryAttributes(client, deviceIds, ATTRIBUTES)) {
    // As the deployments service judges "already installed": by artifact name.
    devices.set(id, { id, deviceType: values.device_type, artifactName: values[RUNNING_ARTIFACT_ATTRIBUTE], subscribedBranch: values.subscribed_branch });
  }

  const artifacts = new Map<string, ArtifactFacts>();
  for (const artifact of await client.listArtifacts()) {
    const known = artifacts.get(artifact.name) ?? { name: artifact.name, deviceTypes: [] };
    known.deviceTypes = [...new Set([...known.deviceTypes, ...artifact.device_types_compatible])].sort();
    artifacts.set(artifact.name, known);
  }
  return { devices, artifacts };
}
