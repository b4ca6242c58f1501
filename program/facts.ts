import { RUNNING_ARTIFACT_ATTRIBUTE, SEARCH_CHUNK, chunks } from '../provider/mender/observed';
import type { MenderClient } from '../provider/mender';
import { ArtifactFacts, DeviceFacts, FleetFacts } from './plan';

const ATTRIBUTES = ['device_type', RUNNING_ARTIFACT_ATTRIBUTE, 'subscribed_branch'];

/**
 * What Mender knows about the fleet's devices and images, read in bulk: one paged inventory
 * search per 500 devices and one artifact listing. Reads only, so preview stays side-effect free.
 */
export async function gatherFacts(client: MenderClient, deviceIds: string[]): Promise<FleetFacts> {
  const devices = new Map<string, DeviceFacts>();
  const found = await client.mapLimited(chunks(deviceIds, SEARCH_CHUNK), (ids) =>
    client.searchDevices({ device_ids: ids, attributes: ATTRIBUTES.map((attribute) => ({ scope: 'inventory' as const, attribute })), per_page: SEARCH_CHUNK }),
  );
  for (const device of found.flat()) {
    const attribute = (name: string) => {
      const value = device.attributes?.find((a) => a.scope === 'inventory' && a.name === name)?.value;
      return typeof value === 'string' && value !== '' ? value : undefined;
    };
    devices.set(device.id, {
      id: device.id,
      deviceType: attribute('device_type'),
      // As the deployments service judges "already installed": by artifact name.
      artifactName: attribute(RUNNING_ARTIFACT_ATTRIBUTE),
      subscribedBranch: attribute('subscribed_branch'),
    });
  }

  const artifacts = new Map<string, ArtifactFacts>();
  for (const artifact of await client.listArtifacts()) {
    const known = artifacts.get(artifact.name) ?? { name: artifact.name, deviceTypes: [] };
    known.deviceTypes = [...new Set([...known.deviceTypes, ...artifact.device_types_compatible])].sort();
    artifacts.set(artifact.name, known);
  }
  return { devices, artifacts };
}
