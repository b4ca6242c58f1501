// One `up`'s share of a rollout: reads where it stands in Mender, moves it on as far as the
// policy allows (starts a wave, tops one up, aborts devices that timed out, stops or rolls back
// on a breach), and returns once nothing more can happen within the policy's wait. An
// unfinished rollout is not an error: the next up carries on from the progress returned.
import { chunks, runningImages, sleep } from '../mender';
import type { Deployment, DeviceDeploymentStatus, MenderClient } from '../mender';
import { deploymentName, isRingDeployment, isRingDeploymentOf, rollbackDeploymentName } from '../deployment-name';
import { nameAFew } from '../../shared/name-a-few';
import type { StatusCounts } from '../types';
import { abortWhole, cannotFinish, deviceStatuses, releaseFromOthers, stillUnfinished, unfinishedDeployments } from './deployments';
import { GateFigures, isFinished, NextStep, RolloutDevice } from './gate';
import type { RolloutPolicy } from './policy';
import { emptyProgress, RolloutProgress, startedDevices, WavePart } from './progress';
import { standing, wavesOf } from './standing';

export interface RolloutTarget {
  artifactName: string;
  /** The ring's devices Git gives the image (sorted). */
  devices: string[];
  /** The ring: the prefix of the deployments' names. */
  ring: string;
  policy: RolloutPolicy;
  /** How often Mender is read while an up waits (ms). */
  pollMs: number;
  /** Devices per Mender deployment (Mender refuses bodies over 1 MiB). */
  devicesPerDeployment: number;
  forceInstallation: boolean;
  /** Devices the last refresh found running another image although they installed this one. */
  outOfSync: string[];
  /** Where progress lines go while the up waits (the dynamic provider's console reaches the up's output). */
  report?: (line: string) => void;
}

export interface Advanced {
  progress: RolloutProgress;
  /** Every Mender deployment of the rollout, oldest first (the rollback's last). */
  deploymentIds: string[];
  /** The rollout's deployments not known to be finished. */
  activeDeploymentIds: string[];
  /** Devices of the started waves per status. */
  statistics: StatusCounts;
  /** Failed and timed-out devices. */
  failedDevices: string[];
  /** Devices of the set that ran the image without a deployment of this rollout. */
  alreadyRunning: number;
  /** Nothing needed deploying: a finished deployment made for exactly this set, when there is one. */
  upToDateDeploymentId?: string;
}

/** The gate stopped the rollout; `advanced` is where it stands (recorded, so no later up starts it again). */
export class RolloutBreached extends Error {
  constructor(message: string, readonly advanced: Advanced) {
    super(message);
    this.name = 'RolloutBreached';
  }
}

/** Progress lines at most this often while an up waits. */
const REPORT_EVERY_MS = 30_000;

function percent(n: number): string {
  return `${Number.isInteger(n) ? n : n.toFixed(1)} %`;
}

/** The gate's figures in one phrase: "1 failed of 4 judged (25 %, limit 10 %)". */
export function describeFigures(f: GateFigures): string {
  const bad = f.failed.length + f.timedOut.length;
  const minimum = f.minimumReached ? '' : ', too few judged to count yet';
  return `${bad} failed of ${f.judged} judged (${percent(f.failurePercent)}, limit ${percent(f.limitPercent)}${minimum})`;
}

export function describeCounts(counts: StatusCounts): string {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? 'no device started' : entries.map(([status, n]) => `${n} ${status}`).join(', ');
}

export async function advanceRollout(client: MenderClient, target: RolloutTarget, recorded: RolloutProgress | undefined): Promise<Advanced> {
  const { artifactName: image, ring, policy } = target;
  const desired = new Set(target.devices);
  const unfinished = await unfinishedDeployments(client);
  // The wait holds a runner: it is the runner's time. Soaks and device timeouts are Mender's.
  const deadline = Date.now() + policy.waitMinutes * 60_000;
  const ours = unfinished.filter((u) => isRingDeploymentOf(u.deployment, ring, image));
  const others = unfinished.filter((u) => !isRingDeploymentOf(u.deployment, ring, image));
  const running = await runningImages(client, target.devices);
  const needs = (id: string) => target.forceInstallation || running.get(id) !== image;

  const progress: RolloutProgress = recorded ? structuredClone(recorded) : emptyProgress(0, wavesOf(policy).length);
  progress.of = Math.max(wavesOf(policy).length, progress.waves.length);
  const recordedIds = new Set(progress.waves.flatMap((w) => w.parts.map((p) => p.deploymentId)));

  // A crash between making a deployment and recording it: adopt it, as the running wave's part
  // or, once that wave had passed, as the next wave.
  for (const { deployment, targets } of ours) {
    if (recordedIds.has(deployment.id)) continue;
    if (targets.some((d) => !desired.has(d))) {
      await abortWhole(client, deployment.id, 'devices left the set');
    } else if (await cannotFinish(client, deployment)) {
      await abortWhole(client, deployment.id, 'it can no longer finish');
    } else {
      const part: WavePart = { deploymentId: deployment.id, devices: targets, startedAt: Date.parse(deployment.created) };
      const last = progress.waves[progress.waves.length - 1];
      if (last && progress.passedAt === undefined) last.parts.push(part);
      else progress.waves.push({ parts: [part], startedAt: part.startedAt });
      progress.passedAt = undefined;
      recordedIds.add(deployment.id);
      if (!recorded) progress.total += targets.length;
    }
  }

  const known = new Set(progress.waves.flatMap((w) => w.parts.flatMap((p) => p.devices)));
  const alreadyRunning = target.devices.filter((d) => !known.has(d) && !needs(d)).length;
  if (!recorded) {
    progress.total += target.devices.filter((d) => !known.has(d) && needs(d)).length;
    if (progress.total === 0) {
      // Every device runs the image: nothing to deploy. A deployment this resource made for
      // exactly this set, now finished, still stands for it (a create retried after the engine lost its answer).
      const [finished] = (await client.findDeploymentsByName(deploymentName(ring, image, target.devices))).sort((a, b) => b.created.localeCompare(a.created));
      return { progress: { ...progress, phase: 'done' }, deploymentIds: [], activeDeploymentIds: [], statistics: {}, failedDevices: [], alreadyRunning, upToDateDeploymentId: finished?.id };
    }
  }

  // A device Git moved to this image from another of the ring (a revert, a fix): no unfinished
  // deployment of that other image may reach it any more.
  const ringOthers = others.filter((o) => isRingDeployment(o.deployment, ring));
  if (ringOthers.length > 0) await releaseFromOthers(client, target.devices, ringOthers);

  const finishedIds = new Set<string>();
  let statuses = new Map<string, DeviceDeploymentStatus>();
  const partsOf = () => progress.waves.flatMap((w) => w.parts);
  const observe = async () => {
    const open = partsOf().map((p) => p.deploymentId).filter((id) => !finishedIds.has(id));
    // Whether each finished is read before its devices: a deployment seen finished then has its final records.
    const finishedNow = (await client.mapLimited(open, async (id) => ((await stillUnfinished(client, id)) ? undefined : id))).filter((id) => id !== undefined);
    const fresh = await deviceStatuses(client, open);
    // Records of finished deployments do not change: read once per up.
    const merged = new Map<string, DeviceDeploymentStatus>();
    for (const part of partsOf()) {
      for (const id of part.devices) {
        const status = fresh.get(id) ?? (finishedIds.has(part.deploymentId) ? statuses.get(id) : undefined) ?? 'pending';
        merged.set(id, status);
      }
    }
    statuses = merged;
    for (const id of finishedNow) finishedIds.add(id);
  };

  /** Makes the deployments of a wave's new devices and records them (with the image each ran). */
  const deploy = async (wave: number, devices: string[], startedAt: number) => {
    // A device takes its oldest deployment first: take these out of other deployments, and
    // out of another image's unfinished deployments in this ring (a rollout Git replaced).
    await releaseFromOthers(client, devices, others);
    for (const id of devices) progress.previous[id] ??= running.get(id) ?? '';
    while (progress.waves.length < wave) progress.waves.push({ parts: [], startedAt });
    for (const part of chunks([...devices].sort(), target.devicesPerDeployment)) {
      const name = deploymentName(ring, image, part);
      const { id } = await client.createDeployment({ name, artifact_name: image, devices: part, force_installation: target.forceInstallation }, { artifactName: image, deploymentName: name });
      progress.waves[wave - 1].parts.push({ deploymentId: id, devices: part, startedAt });
    }
  };

  let lastReport = -Infinity;
  const started = Date.now();
  const say = (step: NextStep, counts: StatusCounts) => {
    // A wave about to start is said once it has: the next round reads its devices.
    if (!target.report || step.kind === 'start' || Date.now() - lastReport < REPORT_EVERY_MS) return;
    lastReport = Date.now();
    const where = step.kind === 'done' ? `all ${step.of} wave(s) done` : step.kind === 'breach' ? 'breach' : `wave ${step.wave} of ${step.of}`;
    target.report(`${image} in ${ring}: ${where}: ${describeCounts(counts)}; ${describeFigures(step.figures)}; ${Math.round((Date.now() - started) / 1000)} s`);
  };

  await observe();
  // A device Git took out of the set leaves the rollout: a deployment that still lists it is
  // aborted as a whole (a per-device abort would also hit a newer deployment of the device's),
  // and its unfinished devices go back to the pool, to be deployed to again in their wave.
  for (const part of partsOf()) {
    if (finishedIds.has(part.deploymentId) || part.devices.every((id) => desired.has(id))) continue;
    await abortWhole(client, part.deploymentId, 'devices left the set');
    part.devices = part.devices.filter((id) => desired.has(id) && isFinished(statuses.get(id) ?? 'pending') && statuses.get(id) !== 'aborted');
    finishedIds.add(part.deploymentId);
  }
  // Devices that installed the image and that a refresh found running another since (reflashed)
  // start again, as devices that joined. Only the refresh says so: an inventory can lag behind
  // the deployment's record, and a device must not be sent the image twice for that.
  const outOfSync = new Set(target.outOfSync);
  const reflashed = new Set(startedDevices(progress).flat().filter((id) => outOfSync.has(id) && desired.has(id) && isFinished(statuses.get(id) ?? 'pending') && needs(id)));
  for (let first = true; ; first = false) {
    if (!first) await observe();
    const now = client.serverNow();
    const { step, devices: judged, counts, assignment } = standing({ image, policy, devices: target.devices, progress, statuses, needs, reflashed, now });
    const seen = new Map(judged.map((d) => [d.id, d]));
    progress.of = assignment.length;
    progress.figures = step.figures;
    say(step, counts);
    const result = (): Advanced => {
      const ids = partsOf().map((p) => p.deploymentId);
      const rollback = progress.breach?.rollbackDeploymentIds ?? [];
      return {
        progress,
        deploymentIds: [...ids, ...rollback],
        activeDeploymentIds: [...ids, ...rollback].filter((id) => !finishedIds.has(id)),
        statistics: counts,
        failedDevices: [...new Set([...step.figures.failed, ...step.figures.timedOut])].sort(),
        alreadyRunning,
      };
    };

    if (step.kind === 'breach') {
      await stopRollout(client, target, progress, step.figures, now, statuses, judged, deadline);
      throw new RolloutBreached(breachMessage(target, progress, step.figures), result());
    }
    if (step.kind !== 'wait' && step.kind !== 'paused' && progress.waves.length > 0 && progress.passedAt === undefined) progress.passedAt = now;
    if (step.kind === 'done') {
      // A device aborted for its timeout leaves its deployment unable to finish: close it.
      for (const part of partsOf()) {
        if (!finishedIds.has(part.deploymentId) && (await stillUnfinished(client, part.deploymentId))) await abortWhole(client, part.deploymentId, 'every device of it finished or timed out');
      }
      progress.phase = 'done';
      progress.soakUntil = undefined;
      return result();
    }
    if (step.kind === 'paused') {
      progress.phase = 'paused';
      return result();
    }
    if (step.kind === 'start') {
      await deploy(step.wave, step.devices, now);
      progress.passedAt = undefined;
      progress.phase = 'waiting';
      progress.soakUntil = undefined;
      continue;
    }
    if (step.kind === 'wait') {
      progress.phase = 'waiting';
      // Timed out: counted as failed, and taken out of the deployment so it never installs late.
      const late = step.figures.timedOut.filter((id) => seen.get(id)?.status !== 'aborted');
      await client.mapLimited(late, (id) => client.abortDeviceDeployments(id, { action: `aborting its deployment of ${image} (it did not finish within ${policy.deviceTimeoutMinutes} minutes)` }));
      if (step.missing.length > 0) {
        await deploy(step.wave, step.missing, now);
        for (const id of step.missing) reflashed.delete(id);
        continue;
      }
      if (late.length > 0) continue;
    } else {
      progress.phase = 'soaking';
      progress.soakUntil = step.until;
      if (step.until - now > deadline - Date.now()) return result();
    }
    if (Date.now() >= deadline) return result();
    await sleep(target.pollMs);
  }
}

/**
 * The gate was breached: the image's unfinished deployments in the ring are aborted; with
 * `rollback`, every device that installed the image is sent back to the image it ran when its
 * wave started, and the up waits (within the policy's wait) for them to get there.
 */
async function stopRollout(
  client: MenderClient,
  target: RolloutTarget,
  progress: RolloutProgress,
  figures: GateFigures,
  now: number,
  statuses: Map<string, DeviceDeploymentStatus>,
  devices: RolloutDevice[],
  deadline: number,
): Promise<void> {
  for (const part of progress.waves.flatMap((w) => w.parts)) {
    if (await stillUnfinished(client, part.deploymentId)) await abortWhole(client, part.deploymentId, 'the rollout breached its failure limit');
  }
  progress.breach = { at: now, figures, rollbackDeploymentIds: [], rolledBack: {} };
  progress.soakUntil = undefined;
  if (target.policy.onFailure !== 'rollback') {
    progress.phase = 'stopped';
    return;
  }
  const back = new Map<string, string[]>();
  for (const d of devices) {
    const before = progress.previous[d.id];
    if (statuses.get(d.id) !== 'success' || !before || before === target.artifactName) continue;
    back.set(before, [...(back.get(before) ?? []), d.id]);
  }
  const ids: string[] = [];
  for (const [image, group] of [...back].sort(([a], [b]) => a.localeCompare(b))) {
    const sorted = [...group].sort();
    for (const part of chunks(sorted, target.devicesPerDeployment)) {
      const name = rollbackDeploymentName(target.ring, image, part);
      const [made] = await client.findDeploymentsByName(name);
      const id = made?.id ?? (await client.createDeployment({ name, artifact_name: image, devices: part }, { artifactName: image, deploymentName: name })).id;
      ids.push(id);
    }
    progress.breach.rolledBack[image] = sorted;
  }
  progress.breach.rollbackDeploymentIds = ids;
  progress.phase = 'rolled-back';
  // Within the wait, see them back; Mender finishes the rest without us.
  while (Date.now() < deadline) {
    const open: Deployment[] = [];
    for (const id of ids) {
      const deployment = await client.getDeployment(id);
      if (deployment.status !== 'finished') open.push(deployment);
    }
    if (open.length === 0) return;
    await sleep(target.pollMs);
  }
}

function breachMessage(target: RolloutTarget, progress: RolloutProgress, figures: GateFigures): string {
  const { artifactName: image, ring } = target;
  const failed = figures.failed.length > 0 ? `; failed: ${nameAFew(figures.failed)}` : '';
  const late = figures.timedOut.length > 0 ? `; timed out (not finished within ${target.policy.deviceTimeoutMinutes} minutes): ${nameAFew(figures.timedOut)}` : '';
  const rolledBack = Object.entries(progress.breach?.rolledBack ?? {});
  const after =
    progress.phase === 'rolled-back'
      ? rolledBack.length === 0
        ? 'no device had installed it, so none was sent back'
        : `the devices that had installed it were sent back: ${rolledBack.map(([back, ids]) => `${ids.length} to ${back}`).join(', ')}`
      : 'the devices that installed it keep it';
  return (
    `${image} in ring ${ring}: the rollout was stopped at wave ${progress.waves.length} of ${progress.of}: ${describeFigures(figures)}${failed}${late}. ` +
    `Its unfinished deployments were aborted, and ${after}. No later up starts ${image} in ${ring} again: name another image in Git (a fix, or the one before).`
  );
}
