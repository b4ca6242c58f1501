// The health gate of a rollout and the step it allows next: pure functions of the devices'
// statuses in Mender, when each device's wave started, the policy and the time. A wave is
// never passed by silence (a device that does not finish in time counts as failed) and never
// waits forever (the same timeout ends it).
import { RolloutPolicy } from './policy';

import type { DeviceDeploymentStatus } from '../mender/schemas';

export type { DeviceDeploymentStatus };

const SUCCEEDED = new Set<DeviceDeploymentStatus>(['success', 'already-installed']);
// A device that rolled back by itself reports `failure`, as does a failed install; `noartifact`
// means the image never reached it. Each is a device of the ring left without the image.
const FAILED = new Set<DeviceDeploymentStatus>(['failure', 'noartifact']);

export interface RolloutDevice {
  id: string;
  /** The wave (1-based) the device was started in. */
  wave: number;
  /** When its wave's deployment was created (ms since the epoch). */
  startedAt: number;
  status: DeviceDeploymentStatus;
}

export interface GateFigures {
  /** Finished (succeeded or failed) or timed out. */
  judged: number;
  failed: string[];
  /** Not finished `deviceTimeoutMinutes` after their wave started: counted as failed, to be aborted. */
  timedOut: string[];
  /** Whether `minDevicesJudged` are judged, so that the ratio counts. */
  minimumReached: boolean;
  /** failed / judged, in percent (0 when nothing is judged). */
  failurePercent: number;
  limitPercent: number;
  breach: boolean;
}

export function isFinished(status: DeviceDeploymentStatus): boolean {
  return SUCCEEDED.has(status) || FAILED.has(status) || status === 'aborted' || status === 'decommissioned';
}

function timedOut(d: RolloutDevice, policy: RolloutPolicy, now: number): boolean {
  return !isFinished(d.status) && now - d.startedAt >= policy.deviceTimeoutMinutes * 60_000;
}

/** The gate over every wave of this image in this ring so far. Decommissioned devices are not judged. */
export function judge(devices: RolloutDevice[], policy: RolloutPolicy, now: number): GateFigures {
  const failed: string[] = [];
  const late: string[] = [];
  let judged = 0;
  for (const d of devices) {
    if (d.status === 'decommissioned') continue;
    if (FAILED.has(d.status)) {
      failed.push(d.id);
      judged++;
    } else if (SUCCEEDED.has(d.status)) {
      judged++;
    } else if (timedOut(d, policy, now) || d.status === 'aborted') {
      // `aborted` here is a timed-out device this gate aborted on an earlier `up`.
      late.push(d.id);
      judged++;
    }
  }
  const bad = failed.length + late.length;
  const failurePercent = judged === 0 ? 0 : (bad / judged) * 100;
  const minimumReached = judged >= policy.minDevicesJudged;
  return { judged, failed, timedOut: late, minimumReached, failurePercent, limitPercent: policy.maxFailurePercent, breach: minimumReached && failurePercent > policy.maxFailurePercent };
}

export type NextStep =
  | { kind: 'breach'; action: RolloutPolicy['onFailure']; figures: GateFigures }
  | { kind: 'wait'; wave: number; of: number; figures: GateFigures; /** Devices of the wave in its deployments, not finished yet. */ running: string[]; /** Devices of the wave not in its deployments yet. */ missing: string[] }
  | { kind: 'soak'; wave: number; of: number; figures: GateFigures; /** When the next wave may start (ms). */ until: number }
  | { kind: 'paused'; wave: number; of: number; figures: GateFigures }
  | { kind: 'start'; wave: number; of: number; figures: GateFigures; devices: string[] }
  | { kind: 'done'; of: number; figures: GateFigures };

/** The first wave from `index` (0-based) that has devices, or -1: an empty wave passes at once, with no soak. */
function firstWithDevices(waves: string[][], index: number): number {
  for (let i = index; i < waves.length; i++) if (waves[i].length > 0) return i;
  return -1;
}

/**
 * What the rollout allows now. `waves` are the devices of each wave as things stand
 * (waves.ts, waveAssignment); `started` how many waves have started; `devices` the statuses of
 * the devices started so far; `passedAt` when the last started wave was first seen passed (the
 * soak counts from then), if it was.
 */
export function nextStep(waves: string[][], started: number, devices: RolloutDevice[], policy: RolloutPolicy, now: number, passedAt?: number): NextStep {
  const of = waves.length;
  const figures = judge(devices, policy, now);
  if (figures.breach) return { kind: 'breach', action: policy.onFailure, figures };
  if (started === 0) {
    const first = firstWithDevices(waves, 0);
    if (first < 0) return { kind: 'done', of, figures };
    if (policy.paused) return { kind: 'paused', wave: first + 1, of, figures };
    return { kind: 'start', wave: first + 1, of, figures, devices: waves[first] };
  }
  const current = devices.filter((d) => d.wave === started);
  const running = current.filter((d) => !isFinished(d.status) && !timedOut(d, policy, now)).map((d) => d.id);
  // Devices assigned to the wave but not yet in its deployments (they joined the ring since) keep it open too.
  const inDeployment = new Set(current.map((d) => d.id));
  const missing = (waves[started - 1] ?? []).filter((id) => !inDeployment.has(id));
  if (running.length > 0 || missing.length > 0) return { kind: 'wait', wave: started, of, figures, running, missing };
  const next = firstWithDevices(waves, started);
  if (next < 0) return { kind: 'done', of, figures };
  const until = (passedAt ?? now) + policy.soakMinutes * 60_000;
  if (now < until) return { kind: 'soak', wave: started, of, figures, until };
  if (policy.paused) return { kind: 'paused', wave: started, of, figures };
  return { kind: 'start', wave: next + 1, of, figures, devices: waves[next] };
}
