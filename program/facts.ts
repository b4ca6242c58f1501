import type { MenderClient } from '../provider/mender';
import { ArtifactFacts, DeviceFacts, FleetFacts } from './plan';

const ATTRIBUTES = ['device_type', 'rootfs-image.version', 'artifact_name', 'subscribed_branch'];
const CHUNK = 500;

/**
 * What Mender knows about the fleet's devices and images, read in bulk: one paged inventory
 * search per 500 devices and one artifact listing. Reads only, so preview stays side-effect free.
 */
export async function gatherFacts(client: MenderClient, deviceIds: string[]): Promise<FleetFacts> {
  const devices = new Map<string, DeviceFacts>();
  const chunks: string[][] = [];
  for (let i = 0; i < deviceIds.length; i += CHUNK) chunks.push(deviceIds.slice(i, i + CHUNK));
  const found = await client.mapLimited(chunks, (ids) =>
    client.searchDevices({ device_ids: ids, attributes: ATTRIBUTES.map((attribute) => ({ scope: 'inventory' as const, attribute })), per_page: CHUNK }),
  );
  for (const device of found.flat()) {
    const attribute = (name: string) => {
      const value = device.attributes?.find((a) => a.scope === 'inventory' && a.name === name)?.value;
      return typeof value === 'string' && value !== '' ? value : undefined;
    };
    devices.set(device.id, {
      id: device.id,
      deviceType: attribute('device_type'),
      artifactName: attribute('rootfs-image.version') ?? attribute('artifact_name'),
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
