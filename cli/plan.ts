// `fleet plan`: what an `up` of a ring's stack would do, in the fleet's terms. It runs the
// program's own pipeline (program/pipeline/run.ts) on the stack's settings, and reads besides
// what the stack applied last and what Mender holds as each device's configuration, with read
// requests only; program/change-report.ts and program/plan-report.ts turn that into the change report.
import { changeReport, ChangeReport, MenderConfiguration } from '../program/change-report';
import { recordedDeployments, rolloutReports } from './rollouts';
import { planMarkdown, planText } from '../program/plan-report';
import { MenderConnection, runPipeline } from '../program/pipeline/run';
import { deviceConfigurations } from '../provider/mender/observed';
import { stackSettings } from './stack-pipeline';
import { stackCheckpoint } from './stack-state';
import { appliedDevices } from './status';

export interface PlanOptions {
  stack: string;
  env?: NodeJS.ProcessEnv;
  /** A stack configuration file other than Pulumi.<stack>.yaml (pulumi's --config-file). */
  configFile?: string;
}

/** Everything `fleet plan` reads, then the plan. Sends no mutating request to Mender. */
export async function gatherChangeReport(options: PlanOptions): Promise<ChangeReport> {
  const env = options.env ?? process.env;
  // Two reads of the stack, both read-only: at once.
  const [settings, checkpoint] = await Promise.all([stackSettings(options.stack, env, options.configFile), stackCheckpoint(options.stack, env)]);
  const applied = await appliedDevices(options.stack, env, checkpoint);
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
    const deployments = applied === undefined ? undefined : recordedDeployments(checkpoint);
    const recorded = deployments && { deployments, rollout: settings.rollout };
    const desired = (image: string) => run.plan!.devices.filter((d) => d.desiredImage === image).map((d) => ({ id: d.id, runningImage: d.runningImage }));
    const rollouts = deployments ? await rolloutReports(mender.client(), deployments, desired, settings.policy) : [];
    return changeReport({ ...planned, gate: run.gate, configurations, recorded, rollouts });
  } finally {
    mender.close();
  }
}

export interface PlanCommandOptions {
  stack: string;
  markdown?: boolean;
  configFile?: string;
}

/** `fleet plan` (cli/commands/plan.ts): the change report, as text or as Markdown. */
export async function runPlan(opts: PlanCommandOptions): Promise<void> {
  const plan = await gatherChangeReport({ stack: opts.stack, configFile: opts.configFile });
  process.stdout.write(opts.markdown ? planMarkdown(plan) : planText(plan));
}
