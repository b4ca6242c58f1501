// What changed on the fleet from one update's snapshot to the next, in the fleet's terms:
// devices, images, configuration keys (never secret values: their digests are compared).
import { differingKeys } from '../../shared/health';
import type { FleetSnapshot, SnapshotDeployment } from './snapshot';
import type { RolloutProgress } from '../../provider/rollout/progress';

/** One change on the fleet between two updates. */
export type FleetChange =
  | { kind: 'device-added'; device: string; ring?: string; image?: string }
  | { kind: 'device-removed'; device: string; image?: string }
  | { kind: 'image'; device: string; from?: string; to?: string }
  | {
      kind: 'configuration';
      device: string;
      /** Plain keys added, removed or changed. */
      keys: string[];
      /** Secret keys added, removed or changed; null when the secrets could not be compared. */
      secretKeys: string[] | null;
      /** True when the device had no configuration managed before. */
      created?: boolean;
    }
  | { kind: 'configuration-removed'; device: string }
  /** Same configuration in Git, sent again: drift corrected (or, when secrets are unreadable, maybe a secret changed). */
  | { kind: 'configuration-reapplied'; device: string; secretsCompared: boolean }
  /** Same image and devices, a new Mender deployment: devices that had drifted got the image again. */
  | { kind: 'image-redeployed'; image: string; devices: string[]; count: number }
  | { kind: 'deployment-failed'; image: string; devices: string[]; deploymentId?: string }
  /** Found by a refresh: the device does not run the image Git wants. */
  | { kind: 'drift-image'; device: string; image: string }
  /** Found by a refresh: the device's configuration differs from Git in these keys. */
  | { kind: 'drift-configuration'; device: string; keys: string[] }
  /** The rollout of the image sent it to the device, in this wave. */
  | { kind: 'wave'; device: string; image: string; wave: number; of: number }
  /** The rollout's gate stopped it (and rolled it back): the figures, the failed and timed-out devices. */
  | { kind: 'rollout-stopped'; image: string; phase: 'stopped' | 'rolled-back'; wave: number; of: number; failed: string[]; timedOut: string[]; judged: number; failurePercent: number; limitPercent: number }
  /** The rollback sent the device back to the image it ran before. */
  | { kind: 'rolled-back'; device: string; image: string; to: string };

/** What changed on the fleet from one snapshot to the next (before: undefined for the first update). */
export function fleetChanges(before: FleetSnapshot | undefined, after: FleetSnapshot, kind = 'update'): FleetChange[] {
  const prev = before ?? { devices: {}, deployments: [], configurations: {} };
  const changes: FleetChange[] = [];
  const ids = [...new Set([...Object.keys(prev.devices), ...Object.keys(after.devices), ...Object.keys(prev.configurations), ...Object.keys(after.configurations)])].sort();

  for (const id of ids) {
    const was = prev.devices[id];
    const now = after.devices[id];
    if (!was && now) changes.push({ kind: 'device-added', device: id, ring: now.ring, image: now.desiredImage });
    else if (was && !now) changes.push({ kind: 'device-removed', device: id, image: was.desiredImage });
    else if (was && now && was.desiredImage !== now.desiredImage) changes.push({ kind: 'image', device: id, from: was.desiredImage, to: now.desiredImage });

    const oldConf = prev.configurations[id];
    const newConf = after.configurations[id];
    if (newConf) {
      const keys = differingKeys(oldConf?.values ?? {}, newConf.values);
      let secretKeys: string[] | null;
      if (!oldConf) secretKeys = newConf.secretDigests ? Object.keys(newConf.secretDigests).sort() : null;
      else if (oldConf.secretDigests && newConf.secretDigests) secretKeys = differingKeys(oldConf.secretDigests, newConf.secretDigests);
      else secretKeys = null;
      const hashChanged = (was?.configurationHash ?? null) !== (now?.configurationHash ?? null);
      if (!oldConf) {
        changes.push({ kind: 'configuration', device: id, keys, secretKeys, created: true });
      } else if (keys.length > 0 || (secretKeys !== null && secretKeys.length > 0) || (secretKeys === null && hashChanged)) {
        changes.push({ kind: 'configuration', device: id, keys, secretKeys });
      } else if (oldConf.deploymentId !== newConf.deploymentId && newConf.deploymentId) {
        changes.push({ kind: 'configuration-reapplied', device: id, secretsCompared: secretKeys !== null });
      }
      if (kind === 'refresh' && newConf.health === 'drifted') changes.push({ kind: 'drift-configuration', device: id, keys: newConf.driftedKeys });
    } else if (oldConf) {
      changes.push({ kind: 'configuration-removed', device: id });
    }
  }

  const previous = new Map(prev.deployments.map((d) => [d.artifactName, d]));
  for (const deployment of after.deployments) {
    const old = previous.get(deployment.artifactName);
    const isNew = deployment.deploymentId !== undefined && deployment.deploymentId !== old?.deploymentId;
    if (isNew && deployment.failedDevices.length > 0) {
      changes.push({ kind: 'deployment-failed', image: deployment.artifactName, devices: deployment.failedDevices, deploymentId: deployment.deploymentId });
    }
    // The same set got the same image once more: the devices that had drifted (known when a
    // refresh recorded them) were updated again.
    if (isNew && old && JSON.stringify(old.devices) === JSON.stringify(deployment.devices)) {
      const count = Object.values(deployment.statistics).reduce((sum, n) => sum + n, 0);
      changes.push({ kind: 'image-redeployed', image: deployment.artifactName, devices: old.outOfSync, count });
    }
    if (kind === 'refresh') {
      for (const device of deployment.outOfSync) changes.push({ kind: 'drift-image', device, image: deployment.artifactName });
    }
    changes.push(...rolloutChanges(old?.progress, deployment));
  }
  return changes;
}

/** What the update did in the image's rollout: the devices each new wave (or part of one) reached, a stop and a rollback. */
function rolloutChanges(before: RolloutProgress | undefined, deployment: SnapshotDeployment): FleetChange[] {
  const progress = deployment.progress;
  if (!progress) return [];
  const image = deployment.artifactName;
  const changes: FleetChange[] = [];
  const seen = new Set((before?.waves ?? []).flatMap((w) => w.parts.map((p) => p.deploymentId)));
  progress.waves.forEach((wave, index) => {
    const reached = [...new Set(wave.parts.filter((p) => !seen.has(p.deploymentId)).flatMap((p) => p.devices))].sort();
    // One wave is the image change itself, already said per device; waves are worth a line each.
    if (progress.of > 1) for (const device of reached) changes.push({ kind: 'wave', device, image, wave: index + 1, of: progress.of });
  });
  const breach = progress.breach;
  if (breach && (progress.phase === 'stopped' || progress.phase === 'rolled-back') && !before?.breach) {
    const f = breach.figures;
    changes.push({ kind: 'rollout-stopped', image, phase: progress.phase, wave: progress.waves.length, of: progress.of, failed: f.failed, timedOut: f.timedOut, judged: f.judged, failurePercent: f.failurePercent, limitPercent: f.limitPercent });
    for (const [to, devices] of Object.entries(breach.rolledBack).sort(([a], [b]) => a.localeCompare(b))) {
      for (const device of devices) changes.push({ kind: 'rolled-back', device, image, to });
    }
  }
  return changes;
}
