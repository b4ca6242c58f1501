// Where a rollout stands and what it allows next, from what Mender says of its devices: the one
// reading that an up acts on (advance.ts) and that `fleet plan` and `fleet status` report.
import type { DeviceDeploymentStatus } from '../mender';
import type { StatusCounts } from '../types';
import { nextStep, NextStep, RolloutDevice } from './gate';
import type { RolloutPolicy } from './policy';
import { RolloutProgress, startedDevices } from './progress';
import { waveAssignment } from './waves';

/** A policy's waves; an empty list is one wave. */
export function wavesOf(policy: RolloutPolicy): RolloutPolicy['waves'] {
  return policy.waves.length > 0 ? policy.waves : [{ percent: 100 }];
}

export interface StandingInput {
  image: string;
  policy: RolloutPolicy;
  /** The ring's devices Git gives the image. */
  devices: string[];
  progress: RolloutProgress;
  /** Each started device's status in its newest deployment of the rollout (none: not polled yet). */
  statuses: ReadonlyMap<string, DeviceDeploymentStatus>;
  /** Whether a device needs the image (it runs another, or installation is forced). */
  needs: (id: string) => boolean;
  /** Started devices that run another image since (they start again, as devices that joined). */
  reflashed: ReadonlySet<string>;
  /** Mender's time (ms). */
  now: number;
}

export interface Standing {
  step: NextStep;
  /** The started devices the gate judges (those still in the set). */
  devices: RolloutDevice[];
  counts: StatusCounts;
  /** The devices of each wave as things stand. */
  assignment: string[][];
}

export function standing(input: StandingInput): Standing {
  const { progress, statuses } = input;
  const desired = new Set(input.devices);
  const devices: RolloutDevice[] = [];
  const seen = new Set<string>();
  progress.waves.forEach((wave, index) => {
    for (const part of wave.parts) {
      for (const id of part.devices) {
        // A device in two parts (taken out of one, put in another) counts once, by its newest.
        if (!desired.has(id) || input.reflashed.has(id)) continue;
        const device: RolloutDevice = { id, wave: index + 1, startedAt: part.startedAt, status: statuses.get(id) ?? 'pending' };
        if (seen.has(id)) devices.splice(devices.findIndex((d) => d.id === id), 1, device);
        else devices.push(device);
        seen.add(id);
      }
    }
  });
  const pool = input.devices.filter((id) => !seen.has(id) && input.needs(id));
  const started = startedDevices(progress).map((ids) => ids.filter((id) => seen.has(id)));
  const assignment = waveAssignment(input.image, { waves: wavesOf(input.policy) }, progress.total, started, pool);
  const step = nextStep(assignment, progress.waves.length, devices, input.policy, input.now, progress.passedAt);
  const counts: StatusCounts = {};
  for (const d of devices) counts[d.status] = (counts[d.status] ?? 0) + 1;
  return { step, devices, counts, assignment };
}
