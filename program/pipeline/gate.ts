// The promotion gate: a ring that promotes from another (in the example, production from canary) refuses to
// deploy an image that has not finished successfully on that ring, unless the stack's
// configuration carries an explicit override for the image, with a reason. The evidence is
// Mender's own deployment history: the canary stack names its deployments
// `canary:<artifact>:<device count>:<digest>` (provider/deployment-name.ts). The evidence is read
// with the other facts before planning (pipeline/facts.ts); the verdict here is pure.
import { isRingDeploymentOf } from '../../provider/deployment-name';
import { FINISHED_DEVICE_STATUSES } from '../../shared/health';
import { nameAFew } from '../../shared/name-a-few';
import type { Plan } from './plan';

/** One Mender deployment of the earlier ring. */
export interface RingDeployment {
  id: string;
  name: string;
  artifactName: string;
  status: string;
  created: string;
  /** Device counts by status (success, failure, aborted, already-installed, pending, …). */
  statistics: Record<string, number>;
}

export interface PromotionOverride {
  image: string;
  reason: string;
}

export interface PromotionViolation {
  image: string;
  /** Devices of this ring that would get the image. */
  devices: string[];
  /** What the earlier ring shows for the image, e.g. "no canary deployment". */
  evidence: string;
}

export interface PromotionResult {
  violations: PromotionViolation[];
  /** Images let through by an override (to be logged). */
  overridden: (PromotionOverride & { evidence: string })[];
  /** Override entries that are not valid (no reason); they do not count. */
  invalidOverrides: string[];
}

/**
 * The ring a ring promotes from: `fleet:promoteFrom`, which Pulumi.yaml names once for the
 * repository (a stack may name another, or "" for none). The source ring itself is not gated.
 */
export function promotionSource(ring: string, configured: string | undefined): string | undefined {
  const source = configured?.trim();
  return source && source !== ring ? source : undefined;
}

/** Images the plan would deploy: desired by a device of the ring that does not run it yet. */
export function imagesToDeploy(plan: Pick<Plan, 'devices'>): Map<string, string[]> {
  const images = new Map<string, string[]>();
  for (const device of plan.devices) {
    if (device.runningImage === device.desiredImage) continue;
    images.set(device.desiredImage, [...(images.get(device.desiredImage) ?? []), device.id]);
  }
  return images;
}

const count = (stats: Record<string, number>, ...keys: string[]) => keys.reduce((sum, k) => sum + (stats[k] ?? 0), 0);
const total = (stats: Record<string, number>) => Object.values(stats).reduce((sum, n) => sum + n, 0);

/**
 * Whether the earlier ring finished the image: its newest finished deployment of the image has
 * no failed or aborted device. Returns undefined when it did, else what it shows.
 */
export function ringVerdict(sourceRing: string, image: string, deployments: RingDeployment[]): string | undefined {
  const own = deployments.filter((d) => isRingDeploymentOf({ name: d.name, artifact_name: d.artifactName }, sourceRing, image)).sort((a, b) => b.created.localeCompare(a.created));
  if (own.length === 0) return `no ${sourceRing} deployment of it`;
  const finished = own.find((d) => d.status === 'finished');
  if (!finished) {
    const running = own[0];
    const done = count(running.statistics, ...FINISHED_DEVICE_STATUSES);
    return `still in progress on ${sourceRing} (${done} of ${total(running.statistics) || '?'} devices done)`;
  }
  const failed = count(finished.statistics, 'failure');
  const aborted = count(finished.statistics, 'aborted');
  const succeeded = count(finished.statistics, 'success', 'already-installed');
  const all = total(finished.statistics);
  if (failed > 0) return `${failed} of ${all} devices failed on ${sourceRing} (deployment ${finished.id})`;
  if (aborted > 0) return `${aborted} of ${all} devices aborted on ${sourceRing} (deployment ${finished.id})`;
  if (succeeded === 0) return `no device installed it on ${sourceRing} (deployment ${finished.id})`;
  return undefined;
}

/** The gate, as a pure function of the plan, the earlier ring's deployments and the overrides. */
export function checkPromotion(plan: Pick<Plan, 'devices'>, sourceRing: string, deployments: RingDeployment[], overrides: PromotionOverride[] = []): PromotionResult {
  const result: PromotionResult = { violations: [], overridden: [], invalidOverrides: [] };
  const valid = new Map<string, PromotionOverride>();
  for (const override of overrides) {
    if (!override.reason || override.reason.trim() === '') result.invalidOverrides.push(override.image);
    else valid.set(override.image, override);
  }
  for (const [image, devices] of [...imagesToDeploy(plan)].sort(([a], [b]) => a.localeCompare(b))) {
    const evidence = ringVerdict(sourceRing, image, deployments);
    if (evidence === undefined) continue;
    const override = valid.get(image);
    if (override) result.overridden.push({ ...override, evidence });
    else result.violations.push({ image, devices, evidence });
  }
  return result;
}

/**
 * The refusal: a one-line summary naming every image and the earlier ring's result (the engine
 * shows only the first line of a program error), and one detail line per image plus the way out.
 */
export function describeViolations(ring: string, sourceRing: string, violations: PromotionViolation[]): { summary: string; details: string[] } {
  const summary = `promotion gate of ring ${ring}: ${violations.map((v) => `image ${v.image} has not finished on ${sourceRing} (${v.evidence})`).join('; ')}; nothing was sent to Mender`;
  const details = [
    ...violations.map((v) => `image ${v.image} has not finished on ${sourceRing}: ${v.evidence}; wanted by ${v.devices.length} device${v.devices.length === 1 ? '' : 's'} of ${ring}: ${nameAFew(v.devices)}`),
    `roll the image out on ${sourceRing} first, or record an override with a reason in the stack configuration: fleet:promotionOverride: [{image: <image>, reason: <why>}]`,
  ];
  return { summary, details };
}

/** Parses `fleet:promotionOverride` (a list of {image, reason}); anything else is an error. */
export function parseOverrides(raw: unknown): PromotionOverride[] {
  if (raw === undefined || raw === null || raw === '') return [];
  const value = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  if (!Array.isArray(value)) throw new Error('fleet:promotionOverride must be a list of {image, reason}');
  return value.map((entry, i) => {
    if (typeof entry !== 'object' || entry === null || typeof (entry as { image?: unknown }).image !== 'string') {
      throw new Error(`fleet:promotionOverride[${i}] must be {image: <artifact name>, reason: <why>}`);
    }
    const { image, reason } = entry as { image: string; reason?: unknown };
    return { image, reason: typeof reason === 'string' ? reason : '' };
  });
}

/** The gate's verdict for a plan: undefined when the ring promotes from no other. */
export type GateResult = (PromotionResult & { sourceRing: string }) | undefined;

/**
 * The gate as the program runs it, from the earlier ring's deployments gathered with the
 * fleet's facts (pipeline/facts.ts): the violations, overrides used and invalid overrides.
 */
export function promotionGate(plan: Pick<Plan, 'devices'>, source: { ring: string; deployments: RingDeployment[] } | undefined, overrides: PromotionOverride[]): GateResult {
  if (!source) return undefined;
  return { sourceRing: source.ring, ...checkPromotion(plan, source.ring, source.deployments, overrides) };
}
