// Which devices go in which wave. Stable across preview, `fleet plan`, `up`, a crash and a
// re-run: the devices that need the image are ordered by a hash of their id (not by inventory
// order, which Mender does not promise, nor at random), and each wave's cumulative target is
// taken from the count when the rollout started, so a device joining later does not move the
// devices already assigned.
import { createHash } from 'node:crypto';
import { RolloutPolicy, WaveTarget } from './policy';

/** The order in which a ring's devices receive an image: a hash of the image and the device id. */
export function rolloutOrder(image: string, deviceIds: Iterable<string>): string[] {
  const key = (id: string) => createHash('sha256').update(image).update('\0').update(id).digest('hex');
  return [...deviceIds].map((id) => ({ id, k: key(id) })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.id < b.id ? -1 : 1)).map((e) => e.id);
}

/** How many devices have been started after each wave, for a ring where `total` devices needed the image at the start. */
export function cumulativeTargets(waves: WaveTarget[], total: number): number[] {
  const targets: number[] = [];
  let previous = 0;
  waves.forEach((w, index) => {
    const raw = index === waves.length - 1 ? total : 'devices' in w ? w.devices : Math.ceil((w.percent / 100) * total);
    // Never shrink, never beyond the ring; a count larger than a small ring is the whole ring.
    const target = Math.min(total, Math.max(previous, raw));
    targets.push(target);
    previous = target;
  });
  return targets;
}

export interface WaveAssignment {
  /** Wave number (1-based) → the devices started in it. */
  waves: string[][];
}

/**
 * The devices of each wave: `initial` are the devices that needed the image when the rollout
 * started (their order fixes the waves); `joined` are those that started to need it later,
 * which join the wave running when they are seen (`currentWave`), or the first if none started.
 */
export function assignWaves(image: string, policy: Pick<RolloutPolicy, 'waves'>, initial: string[], joined: string[] = [], currentWave = 1): WaveAssignment {
  const order = rolloutOrder(image, initial);
  const targets = cumulativeTargets(policy.waves, order.length);
  const waves: string[][] = [];
  let from = 0;
  for (const target of targets) {
    waves.push(order.slice(from, target));
    from = target;
  }
  const seen = new Set(initial);
  const late = rolloutOrder(image, joined.filter((id) => !seen.has(id)));
  const at = Math.min(Math.max(currentWave, 1), waves.length) - 1;
  waves[at] = [...waves[at], ...late];
  return { waves };
}
