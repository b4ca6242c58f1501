// Gathering the fleet's facts: what Mender knows that the plan and the promotion gate need,
// read once, before planning, with read requests only (so a preview stays side-effect free).
// Planning and the gate's verdict are then pure functions of the validated fleet, these facts
// and the stack's settings (run.ts).
import { devicesWithImages } from '../../provider/mender/observed';
import type { Deployment, MenderClient } from '../../provider/mender';
import { isRingDeploymentOf } from '../../provider/deployment-name';
import { nonZeroCounts } from '../../provider/mender/observed';
import type { ArtifactFacts, DeviceFacts, FleetFacts } from './plan';
import { promotionSource, RingDeployment } from './gate';
import type { ValidatedFleet } from './validated-fleet';

const ATTRIBUTES = ['device_type', 'subscribed_branch'] as const;

/** The promotion gate's evidence: the earlier ring's deployments of the images this ring may deploy. */
export interface SourceRingFacts {
  ring: string;
  deployments: RingDeployment[];
}

export interface PipelineFacts extends FleetFacts {
  /** Undefined when the ring promotes from no other. */
  sourceRing?: SourceRingFacts;
}

/**
 * What Mender knows about the fleet's devices and images, read in bulk: one paged inventory
 * search per 500 devices and one artifact listing.
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

/**
 * The images any device of the fleet may be given, when validation settled every device's
 * os_image; undefined when some device's images depend on Mender's facts (then every image counts).
 */
export function candidateImages(fleet: ValidatedFleet): Set<string> | undefined {
  const images = new Set<string>();
  for (const resolved of fleet.resolved.values()) {
    if (!resolved.osImages) return undefined;
    for (const image of resolved.osImages.value) images.add(image.image_name);
  }
  return images;
}

/**
 * The images the gate can be asked about: those a device of the fleet may be given (its
 * os_image for its device type) and does not run now. The gate judges only images the plan
 * deploys, which are among them; so a ring whose devices run their images reads no evidence,
 * and a no-op `up` pages through none of the source ring's deployments. Undefined as in
 * candidateImages.
 */
export function imagesToJudge(fleet: ValidatedFleet, facts: FleetFacts): Set<string> | undefined {
  if (!candidateImages(fleet)) return undefined;
  const images = new Set<string>();
  for (const [id, resolved] of fleet.resolved) {
    const device = facts.devices.get(id);
    if (!device) continue;
    for (const image of resolved.osImages!.value) {
      if (image.device_type === device.deviceType && image.image_name !== device.artifactName) images.add(image.image_name);
    }
  }
  return images;
}

/**
 * The deployments of `ring` that decide the gate for each image (gate.ts, ringVerdict):
 * per image the newest and the newest finished one. Only those need their statistics read.
 */
export function decidingDeployments(ring: string, deployments: Deployment[], images: Set<string> | undefined): Deployment[] {
  const byImage = new Map<string, Deployment[]>();
  for (const d of deployments) {
    if (d.type === 'configuration' || !isRingDeploymentOf(d, ring, d.artifact_name)) continue;
    if (images && !images.has(d.artifact_name)) continue;
    byImage.set(d.artifact_name, [...(byImage.get(d.artifact_name) ?? []), d]);
  }
  const deciding: Deployment[] = [];
  for (const own of byImage.values()) {
    const newestFirst = [...own].sort((a, b) => b.created.localeCompare(a.created));
    const finished = newestFirst.find((d) => d.status === 'finished');
    deciding.push(...new Set([newestFirst[0], ...(finished ? [finished] : [])]));
  }
  return deciding;
}

/** The earlier ring's deciding deployments with their device counts. */
export async function sourceRingFacts(client: MenderClient, ring: string, images: Set<string> | undefined): Promise<SourceRingFacts> {
  const deciding = decidingDeployments(ring, await client.listAllDeployments(), images);
  const deployments = await client.mapLimited(deciding, async (d) => ({
    id: d.id,
    name: d.name,
    artifactName: d.artifact_name,
    status: d.status,
    created: d.created,
    statistics: nonZeroCounts(await client.getDeploymentStatistics(d.id)),
  }));
  return { ring, deployments };
}

/** Every fact the pipeline plans and gates with. */
export async function gatherPipelineFacts(client: MenderClient, fleet: ValidatedFleet, settings: { ring: string; promoteFrom?: string }): Promise<PipelineFacts> {
  const facts = await gatherFacts(client, fleet.description.devices.map((d) => d.id));
  const source = promotionSource(settings.ring, settings.promoteFrom);
  if (!source) return facts;
  const images = imagesToJudge(fleet, facts);
  if (images && images.size === 0) return { ...facts, sourceRing: { ring: source, deployments: [] } };
  return { ...facts, sourceRing: await sourceRingFacts(client, source, images) };
}
