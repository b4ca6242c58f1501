// The ring's rollouts under way or stopped, as the next up would find them, for `fleet plan` and
// `fleet status`: each device's status in the rollout's deployments (read requests only),
// judged as an up judges it (provider/rollout/standing.ts) and said in words (program/rollout-report.ts).
import type { RecordedDeployment } from '../program/change-report';
import { rolloutReport, RolloutReport } from '../program/rollout-report';
import type { MenderClient } from '../provider/mender';
import { deviceStatuses } from '../provider/rollout/deployments';
import { DEFAULT_POLICY, RolloutPolicy } from '../provider/rollout/policy';
import { isStopped, RolloutProgress } from '../provider/rollout/progress';
import { standing } from '../provider/rollout/standing';
import type { StackCheckpoint } from './stack-state';

/** The dynamic resource type of MenderDeployment (program/resources.ts: module `mender`). */
const MENDER_DEPLOYMENT_TYPE = 'pulumi-nodejs:dynamic/mender:MenderDeployment';

/** The stack's MenderDeployments as its checkpoint records them, by image: what a plain `up` diffs against. */
export function recordedDeployments(checkpoint: StackCheckpoint): Map<string, RecordedDeployment> {
  const resources = checkpoint.resources;
  const recorded = new Map<string, RecordedDeployment>();
  for (const resource of resources) {
    const o = resource.outputs;
    if (resource.type !== MENDER_DEPLOYMENT_TYPE || !o || typeof o.artifactName !== 'string') continue;
    recorded.set(o.artifactName, {
      devices: Array.isArray(o.devices) ? (o.devices as string[]) : [],
      outOfSync: Array.isArray(o.outOfSync) ? (o.outOfSync as string[]) : [],
      namePrefix: typeof o.namePrefix === 'string' ? o.namePrefix : undefined,
      rollout: o.rollout,
      ...(o.progress && typeof o.progress === 'object' ? { progress: o.progress as RolloutProgress } : {}),
      ...(o.policy && typeof o.policy === 'object' ? { policy: o.policy as RolloutPolicy } : {}),
    });
  }
  return recorded;
}


/** A device Git gives the image, and the image Mender says it runs. */
export interface DesiredDevice {
  id: string;
  runningImage?: string;
}

/** `declared`: the policy the stack declares now (fleet plan), else each rollout's recorded one. */
export async function rolloutReports(
  client: MenderClient,
  deployments: ReadonlyMap<string, RecordedDeployment>,
  desired: (image: string) => DesiredDevice[],
  declared?: RolloutPolicy,
): Promise<RolloutReport[]> {
  const reports: RolloutReport[] = [];
  for (const [image, recorded] of [...deployments].sort(([a], [b]) => a.localeCompare(b))) {
    const progress = recorded.progress;
    if (!progress || progress.phase === 'done') continue;
    const policy = declared ?? recorded.policy ?? DEFAULT_POLICY;
    if (isStopped(progress)) {
      reports.push(rolloutReport(image, policy, progress, undefined, client.serverNow()));
      continue;
    }
    const statuses = await deviceStatuses(client, progress.waves.flatMap((w) => w.parts.map((p) => p.deploymentId)));
    const devices = desired(image);
    const needs = new Set(devices.filter((d) => d.runningImage !== image).map((d) => d.id));
    const now = client.serverNow();
    const st = standing({ image, policy, devices: devices.map((d) => d.id).sort(), progress, statuses, needs: (id) => needs.has(id), reflashed: new Set(), now });
    reports.push(rolloutReport(image, policy, progress, st, now));
  }
  return reports;
}
