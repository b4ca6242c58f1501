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

/**
 * The devices of each wave as things stand: `started` are the devices each started wave was
 * given (in order); `pool` the devices that need the image and are in no started wave (they
 * joined the ring since, or were never reached). The running wave is topped up from the pool
 * to its target (a device that joined, a part lost in a crash), the last wave takes the whole
 * pool, and the waves not started yet split the rest in the rollout's order. `total` is the
 * number of devices that needed the image when the rollout started: it fixes the targets, so
 * a device joining later does not move the devices already assigned.
 */
export function waveAssignment(image: string, policy: Pick<RolloutPolicy, 'waves'>, total: number, started: string[][], pool: string[]): string[][] {
  const targets = cumulativeTargets(policy.waves, total);
  const order = rolloutOrder(image, pool);
  const waves: string[][] = [];
  let count = 0;
  let from = 0;
  const take = (n: number) => {
    const part = order.slice(from, from + Math.max(0, n));
    from += part.length;
    return part;
  };
  // A policy shortened in the middle of a rollout keeps the waves already started.
  const n = Math.max(targets.length, started.length);
  for (let index = 0; index < n; index++) {
    const target = targets[index] ?? total;
    const last = index === n - 1;
    const own = started[index] ?? [];
    const open = index >= started.length - 1;
    const extra = !open ? [] : last ? take(order.length - from) : take(target - count - own.length);
    waves.push([...own, ...extra]);
    count += own.length + extra.length;
  }
  return waves;
}
