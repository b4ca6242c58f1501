import { devicesWithImages } from '../provider/mender/observed';
import type { MenderClient } from '../provider/mender';
import { ArtifactFacts, DeviceFacts, FleetFacts } from './plan';

const ATTRIBUTES = ['device_type', 'subscribed_branch'] as const;

/**
 * What Mender knows about the fleet's devices and images, read in bulk: one paged inventory
 * search per 500 devices and one artifact listing. Reads only, so preview stays side-effect free.
 */
export async function gatherFacts(client: MenderClient, deviceIds: string[]): Promise<FleetFacts> {
  const listed = await client.listArtifacts();
  const devices = new Map<string, DeviceFacts>();
  for (const [id, { attributes, runningImage }] of await devicesWithImages(client, deviceIds, ATTRIBUTES, { artifacts: listed })) {
    devices.set(id, { id, deviceType: attributes.device_type, artifactName: runningImage, subscribedBranch: attributes.subscribed_branch });
  }

  const artifacts = new Map<string, ArtifactFacts>();
  for (const artifact of listed) {
    const known = artifacts.get(artifact.name) ?? { name: artifact.name, deviceTypes: [] };
    known.deviceTypes = [...new Set([...known.deviceTypes, ...artifact.device_types_compatible])].sort();
    artifacts.set(artifact.name, known);
  }
  return { devices, artifacts };
}
