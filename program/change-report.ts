// The change report `fleet plan` prints: what an `up` of a ring's stack would change, in the
// fleet's terms (images per device type and group, devices joining and leaving the ring,
// configuration keys, devices Mender does not know, the promotion gate's verdict). The planner's
// `Plan` (pipeline/plan.ts) is the desired state; this compares it with the stack's last update and with
// Mender. A pure function of what `fleet plan` gathered; program/plan-report.ts renders it.
import type { RolloutProgress } from '../provider/rollout/progress';
import type { RolloutPolicy } from '../provider/rollout/policy';
import type { RolloutReport } from './rollout-report';
import { nameAFew } from '../shared/name-a-few';
import { FleetDescription } from './description/load';
import { FleetIssue, formatIssue } from './description/issues';
import type { ObservedConfiguration } from '../shared/health';
import { FleetFacts, Plan, PlannedDevice } from './pipeline/plan';
import { imagesToDeploy, PromotionResult } from './pipeline/gate';

/** One device as the stack's last update applied it (the `devices` output). */
export interface AppliedDevice {
  ring?: string;
  group?: string;
  deviceType?: string;
  desiredImage?: string;
  configurationHash?: string | null;
}

/**
 * An image's MenderDeployment as the stack last recorded it (its outputs in the state): what a
 * plain `up` compares the program's inputs with. A plain `up` reads nothing live for it, so a
 * device that changed image since the last refresh is redeployed only when the resource changes
 * for another reason, or by `up --refresh`.
 */
export interface RecordedDeployment {
  devices: string[];
  /** Devices the last create, update or refresh found not running the image. */
  outOfSync: string[];
  namePrefix?: string;
  rollout?: unknown;
  /** Where its rollout stands (absent in stacks applied before waves). */
  progress?: RolloutProgress;
  /** The policy it rolled out with (absent: one wave). */
  policy?: RolloutPolicy;
}

/** A device's configuration as Mender holds it (health.ts's observed configuration). */
export type MenderConfiguration = ObservedConfiguration;

export interface ChangeReportInput {
  stack: string;
  ring: string;
  /** Errors of the offline validation; the fleet is undefined when there are any. */
  issues: FleetIssue[];
  fleet?: FleetDescription;
  facts?: FleetFacts;
  plan?: Plan;
  /** The gate's result; undefined when the ring promotes from no other. */
  gate?: PromotionResult & { sourceRing: string };
  /** The stack's `devices` output; undefined when the stack was never applied. */
  applied?: Record<string, AppliedDevice>;
  /** Mender's configuration of the devices the plan configures. */
  configurations: ReadonlyMap<string, MenderConfiguration>;
  /** The stack's MenderDeployments by image, and the rollout settings the program declares; absent: not known (a plain up is taken to act). */
  recorded?: { deployments: ReadonlyMap<string, RecordedDeployment>; rollout: unknown };
  /** The ring's rollouts that are under way or were stopped, in words (rollout-report.ts). */
  rollouts?: RolloutReport[];
}

export interface ImagePlan {
  image: string;
  /** Devices that get the image: they should run it and do not yet (as Mender says now). */
  devices: string[];
  /**
   * Those of them a plain `up` leaves alone, because the image's MenderDeployment is unchanged
   * since the stack last recorded it: only `up --refresh` (or a later change) deploys to them.
   */
  onlyWithRefresh: string[];
  /** Devices of the ring that should run it and already do. */
  alreadyRunning: number;
  /** The devices getting it, counted by device type and group. */
  byTypeAndGroup: { deviceType: string; group: string; devices: number }[];
  /** What the devices getting it run now. */
  from: { image?: string; devices: number }[];
}

/**
 * Why a device is in the ring or not: its own `subscribed_branch` report, Git's, or the default
 * ring; for one that leaves, also that Git no longer lists it, Mender does not know it, or it
 * cannot be planned (see the errors).
 */
export type MoveReason = 'device' | 'git' | 'default' | 'removed-from-git' | 'unknown-to-mender' | 'not-planned';

export interface RingMove {
  device: string;
  reason: MoveReason;
  /** The ring it follows (joining: this one; leaving: the other one), when it follows one. */
  ring?: string;
}

export interface ConfigurationPlan {
  device: string;
  added: string[];
  removed: string[];
  changed: string[];
  /** Keys among added and changed whose values are secret (never shown). */
  secret: string[];
  /** Mender holds no configuration for the device yet. */
  created: boolean;
}

export type GateVerdict =
  | { kind: 'none' }
  /** Planning failed, so the gate was not asked. */
  | { kind: 'not-checked' }
  | {
      kind: 'checked';
      sourceRing: string;
      /** Images the earlier ring finished, with the number of devices of this ring getting them. */
      passed: { image: string; devices: number }[];
      overridden: { image: string; reason: string; evidence: string }[];
      refused: { image: string; evidence: string; devices: number }[];
      invalidOverrides: string[];
    };

export interface ChangeReport {
  stack: string;
  ring: string;
  /** The ring's rollouts under way or stopped. */
  rollouts: RolloutReport[];
  /** Why an up would stop before anything reaches Mender; empty when it would run. */
  stops: string[];
  errors: string[];
  warnings: string[];
  /** Devices in the ring after the up. */
  deviceCount: number;
  images: ImagePlan[];
  /** The stack was never applied: every device of the ring joins. */
  firstApply: boolean;
  joining: RingMove[];
  leaving: RingMove[];
  configurations: ConfigurationPlan[];
  /** Devices whose configuration the stack managed and no longer will (Mender keeps it). */
  unmanaged: string[];
  unknownToMender: string[];
  gate: GateVerdict;
}

const sorted = (values: Iterable<string>) => [...values].sort((a, b) => a.localeCompare(b));

function countBy<T>(items: T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

/** Equal as JSON with the keys of every map in order (the state's maps come back sorted). */
function sameValue(a: unknown, b: unknown): boolean {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(canonical(a ?? null)) === JSON.stringify(canonical(b ?? null));
}

/**
 * Whether a plain `up` updates the image's MenderDeployment: as its diff decides
 * (provider/mender-deployment.ts), from the recorded outputs and the inputs the program declares.
 */
function plainUpActs(recorded: ChangeReportInput['recorded'], ring: string, image: string, devices: string[]): boolean {
  const state = recorded?.deployments.get(image);
  if (!recorded || !state) return true;
  const wanted = [...new Set(devices)].sort();
  const had = [...new Set(state.devices)].sort();
  return (
    JSON.stringify(had) !== JSON.stringify(wanted) ||
    state.outOfSync.some((id) => wanted.includes(id)) ||
    !sameValue(state.rollout, recorded.rollout) ||
    (state.namePrefix !== undefined && state.namePrefix !== ring)
  );
}

function imagePlans(devices: PlannedDevice[], plan: Plan, recorded: ChangeReportInput['recorded']): ImagePlan[] {
  const deploymentDevices = new Map(plan.deployments.map((d) => [d.image, d.devices]));
  const byImage = new Map<string, PlannedDevice[]>();
  for (const device of devices) {
    const same = byImage.get(device.desiredImage) ?? [];
    same.push(device);
    byImage.set(device.desiredImage, same);
  }
  return sorted(byImage.keys()).map((image) => {
    const all = byImage.get(image)!;
    const getting = all.filter((d) => d.runningImage !== image);
    const byTypeAndGroup = [...countBy(getting, (d) => `${d.deviceType}\0${d.group}`)]
      .map(([key, n]) => ({ deviceType: key.split('\0')[0], group: key.split('\0')[1], devices: n }))
      .sort((a, b) => a.deviceType.localeCompare(b.deviceType) || a.group.localeCompare(b.group));
    const from = [...countBy(getting, (d) => d.runningImage ?? '')]
      .map(([running, n]) => ({ image: running === '' ? undefined : running, devices: n }))
      .sort((a, b) => b.devices - a.devices || (a.image ?? '').localeCompare(b.image ?? ''));
    const acts = plainUpActs(recorded, plan.ring, image, deploymentDevices.get(image) ?? all.map((d) => d.id));
    return { image, devices: getting.map((d) => d.id), onlyWithRefresh: acts ? [] : getting.map((d) => d.id), alreadyRunning: all.length - getting.length, byTypeAndGroup, from };
  });
}

function configurationPlan(device: PlannedDevice, mender: MenderConfiguration | undefined): ConfigurationPlan | undefined {
  const desired = device.configuration!.values;
  // What Mender has set for the device, else what the device reported (set by hand, or before this stack).
  const current = mender && Object.keys(mender.configured).length > 0 ? mender.configured : (mender?.reported ?? {});
  const added = sorted(Object.keys(desired).filter((k) => !(k in current)));
  const removed = sorted(Object.keys(current).filter((k) => !(k in desired)));
  const changed = sorted(Object.keys(desired).filter((k) => k in current && current[k] !== desired[k]));
  if (added.length + removed.length + changed.length === 0) return undefined;
  const secretKeys = new Set(device.configuration!.secretKeys);
  const secret = [...added, ...changed].filter((k) => secretKeys.has(k)).sort();
  return { device: device.id, added, removed, changed, secret, created: Object.keys(current).length === 0 };
}

function gateVerdict(input: ChangeReportInput, planned: boolean): GateVerdict {
  if (!planned) return { kind: 'not-checked' };
  if (!input.gate) return { kind: 'none' };
  const { gate } = input;
  const wanted = imagesToDeploy(input.plan!);
  const decided = new Set([...gate.violations.map((v) => v.image), ...gate.overridden.map((o) => o.image)]);
  return {
    kind: 'checked',
    sourceRing: gate.sourceRing,
    passed: sorted(wanted.keys())
      .filter((image) => !decided.has(image))
      .map((image) => ({ image, devices: wanted.get(image)!.length })),
    overridden: gate.overridden.map(({ image, reason, evidence }) => ({ image, reason, evidence })),
    refused: gate.violations.map((v) => ({ image: v.image, evidence: v.evidence, devices: v.devices.length })),
    invalidOverrides: gate.invalidOverrides,
  };
}

/** The change report of one ring: the planner's plan compared with the stack's last update and with Mender. */
export function changeReport(input: ChangeReportInput): ChangeReport {
  const { plan, fleet, facts } = input;
  const errors = [...input.issues, ...(plan?.errors ?? [])].map(formatIssue);
  const planned = plan !== undefined && plan.errors.length === 0;
  const result: ChangeReport = {
    stack: input.stack,
    ring: input.ring,
    rollouts: input.rollouts ?? [],
    stops: [],
    errors,
    warnings: (plan?.warnings ?? []).map(formatIssue),
    deviceCount: plan?.devices.length ?? 0,
    images: plan ? imagePlans(plan.devices, plan, input.recorded) : [],
    firstApply: input.applied === undefined,
    joining: [],
    leaving: [],
    configurations: [],
    unmanaged: [],
    unknownToMender: fleet && facts ? sorted(fleet.devices.filter((d) => !facts.devices.has(d.id)).map((d) => d.id)) : [],
    gate: gateVerdict(input, planned),
  };
  if (errors.length > 0) {
    result.stops.push(`the fleet has ${errors.length} error${errors.length === 1 ? '' : 's'} (below): an up would stop before anything reaches Mender`);
  }
  if (result.gate.kind === 'checked' && result.gate.refused.length > 0) {
    result.stops.push(`the promotion gate refuses ${nameAFew(result.gate.refused.map((r) => r.image))}: an up would stop before anything reaches Mender`);
  }
  if (!plan) return result;

  const applied = input.applied ?? {};
  const inRing = new Map(plan.devices.map((d) => [d.id, d]));
  for (const device of plan.devices) {
    if (!(device.id in applied)) result.joining.push({ device: device.id, reason: device.ringSource, ring: device.ring });
  }
  const described = new Map(fleet?.devices.map((d) => [d.id, d]) ?? []);
  const otherRing = new Map(plan.otherRings.map((o) => [o.id, o.ring]));
  for (const id of sorted(Object.keys(applied))) {
    if (inRing.has(id)) continue;
    const description = described.get(id);
    let move: RingMove;
    if (!description) move = { device: id, reason: 'removed-from-git' };
    else if (!facts?.devices.has(id)) move = { device: id, reason: 'unknown-to-mender' };
    else if (otherRing.has(id)) {
      const reason = facts.devices.get(id)?.subscribedBranch ? 'device' : description.variables.has('subscribed_branch') ? 'git' : 'default';
      move = { device: id, reason, ring: otherRing.get(id) };
    } else move = { device: id, reason: 'not-planned' };
    result.leaving.push(move);
  }

  for (const device of plan.devices) {
    if (!device.configuration) {
      if (applied[device.id]?.configurationHash) result.unmanaged.push(device.id);
      continue;
    }
    const change = configurationPlan(device, input.configurations.get(device.id));
    if (change) result.configurations.push(change);
  }
  return result;
}
