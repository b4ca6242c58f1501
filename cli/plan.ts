// `fleet plan`: what an `up` of a ring's stack would do, in the fleet's terms. It runs the
// program's own pipeline (program/pipeline/run.ts) on the stack's settings, and reads besides
// what the stack applied last and what Mender holds as each device's configuration, with read
// requests only; program/change-report.ts and program/plan-report.ts turn that into the change report.
import { Command } from 'commander';
import { changeReport, ChangeReport, MenderConfiguration, RecordedDeployment } from '../program/change-report';
import type { Plan } from '../program/pipeline/plan';
import { rolloutReport, RolloutReport } from '../program/rollout-report';
import { deviceStatuses } from '../provider/rollout/deployments';
import { DEFAULT_POLICY, RolloutPolicy } from '../provider/rollout/policy';
import type { RolloutProgress } from '../provider/rollout/progress';
import { standing } from '../provider/rollout/standing';
import { planMarkdown, planText } from '../program/plan-report';
import { MenderConnection, runPipeline } from '../program/pipeline/run';
import { deviceConfigurations } from '../provider/mender/observed';
import { stackSettings } from './stack-pipeline';
import { ringStack } from './workspace';
import { appliedDevices } from './status';

export interface PlanOptions {
  stack: string;
  env?: NodeJS.ProcessEnv;
  /** A stack configuration file other than Pulumi.<stack>.yaml (pulumi's --config-file). */
  configFile?: string;
}

/** The dynamic resource type of MenderDeployment (program/resources.ts: module `mender`). */
const MENDER_DEPLOYMENT_TYPE = 'pulumi-nodejs:dynamic/mender:MenderDeployment';

/** The stack's MenderDeployments as its state records them, by image: what a plain `up` diffs against. */
export async function recordedDeployments(stack: string, env: NodeJS.ProcessEnv): Promise<Map<string, RecordedDeployment>> {
  const exported = await (await ringStack(stack, env)).exportStack();
  const resources = ((exported.deployment as { resources?: { type: string; outputs?: Record<string, unknown> }[] }).resources ?? []);
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

/**
 * The ring's rollouts under way or stopped, as the next up would find them: each device's status
 * in the rollout's deployments (read only), judged with the policy the stack now declares.
 */
async function rolloutReports(mender: MenderConnection, deployments: ReadonlyMap<string, RecordedDeployment>, plan: Plan, declared: RolloutPolicy | undefined): Promise<RolloutReport[]> {
  const reports: RolloutReport[] = [];
  const client = mender.client();
  for (const [image, recorded] of [...deployments].sort(([a], [b]) => a.localeCompare(b))) {
    const progress = recorded.progress;
    if (!progress || progress.phase === 'done') continue;
    const policy = declared ?? recorded.policy ?? DEFAULT_POLICY;
    if (progress.phase === 'stopped' || progress.phase === 'rolled-back') {
      reports.push(rolloutReport(image, policy, progress, undefined, client.serverNow()));
      continue;
    }
    const statuses = await deviceStatuses(client, progress.waves.flatMap((w) => w.parts.map((p) => p.deploymentId)));
    const devices = plan.devices.filter((d) => d.desiredImage === image);
    const needs = new Set(devices.filter((d) => d.runningImage !== image).map((d) => d.id));
    const now = client.serverNow();
    const st = standing({ image, policy, devices: devices.map((d) => d.id).sort(), progress, statuses, needs: (id) => needs.has(id), reflashed: new Set(), now });
    reports.push(rolloutReport(image, policy, progress, st, now));
  }
  return reports;
}

/** Everything `fleet plan` reads, then the plan. Sends no mutating request to Mender. */
export async function gatherChangeReport(options: PlanOptions): Promise<ChangeReport> {
  const env = options.env ?? process.env;
  const settings = await stackSettings(options.stack, env, options.configFile);
  const applied = await appliedDevices(options.stack, env);
  const mender = new MenderConnection(settings.mender);
  try {
    const run = await runPipeline(settings, mender);
    const base = { stack: options.stack, ring: settings.ring, applied, configurations: new Map<string, MenderConfiguration>() };
    // Issues that stop the pipeline before planning; the planner's own errors are in the plan.
    const issues = run.stop && (run.stop.stage === 'settings' || run.stop.stage === 'validation') ? run.stop.issues : [];
    if (!run.validated || !run.plan) return changeReport({ ...base, issues });
    const planned = { ...base, issues, fleet: run.validated.description, facts: run.facts, plan: run.plan };
    if (run.plan.errors.length > 0) return changeReport(planned);

    const configured = run.plan.devices.filter((d) => d.configuration);
    const configurations = new Map<string, MenderConfiguration>();
    for (const [id, state] of await deviceConfigurations(mender.client(), configured.map((d) => d.id))) {
      if (state instanceof Error) throw state;
      // A device deviceconfig knows nothing of yet holds no configuration.
      if (state) configurations.set(id, { configured: state.configured, reported: state.reported });
    }
    const deployments = applied === undefined ? undefined : await recordedDeployments(options.stack, env);
    const recorded = deployments && { deployments, rollout: settings.rollout };
    const rollouts = deployments ? await rolloutReports(mender, deployments, run.plan, settings.policy) : [];
    return changeReport({ ...planned, gate: run.gate, configurations, recorded, rollouts });
  } finally {
    mender.close();
  }
}

export function registerPlanCommand(program: Command): void {
  program
    .command('plan')
    .description("what an up of a ring's stack would do, in fleet terms (images, ring membership, configuration keys, the promotion gate); reads only")
    .requiredOption('--stack <ring>', 'the ring stack (canary, production)')
    .option('--markdown', `Markdown for a pull request comment, collapsed and kept under its size limit`)
    .option('--config-file <file>', 'the stack configuration file, if not Pulumi.<stack>.yaml')
    .action(async (opts: { stack: string; markdown?: boolean; configFile?: string }) => {
      const plan = await gatherChangeReport({ stack: opts.stack, configFile: opts.configFile });
      process.stdout.write(opts.markdown ? planMarkdown(plan) : planText(plan));
    });
}
