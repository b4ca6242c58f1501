// The fleet program: the stack's settings → validated fleet → Mender's facts → plan and
// promotion gate (program/pipeline/, shared with `fleet plan`) → resources.
// Pulumi's modules one by one: the package's index also loads the Automation API and the
// TypeScript compiler, 0.65 s of every preview (docs/performance.md).
import { RunError } from '@pulumi/pulumi/errors';
import * as log from '@pulumi/pulumi/log';
import { getStack } from '@pulumi/pulumi/metadata';
import { secret } from '@pulumi/pulumi/output';
import { allConfig } from '@pulumi/pulumi/runtime/config';
import { FleetIssue, formatIssue } from './program/description/issues';
import { FactsUnavailable, MenderConnection, runPipeline } from './program/pipeline/run';
import { readStackSettings } from './program/pipeline/settings';
import { declareFleet } from './program/pipeline/declare';

// The stack's configuration as the engine hands it to the program; secret values arrive in
// clear and stay in this process (lookup('config', KEY) keeps them secret in what it renders).
const settings = readStackSettings(
  {
    stack: getStack(),
    values: allConfig(),
    secretKeys: new Set(JSON.parse(process.env.PULUMI_CONFIG_SECRET_KEYS ?? '[]') as string[]),
  },
  { projectDir: process.cwd(), env: process.env },
);

// The engine shows only the first line of a program error, so each issue is its own message.
async function stop(summary: string, issues: FleetIssue[], details: string[] = []): Promise<never> {
  await Promise.all([...issues.map((issue) => log.error(formatIssue(issue))), ...details.map((line) => log.error(line))]);
  throw new RunError(summary);
}

async function main() {
  const mender = new MenderConnection(settings.mender);
  try {
    const run = await runPipeline(settings, mender).catch((error: unknown) => {
      throw error instanceof FactsUnavailable ? new RunError(error.message) : error;
    });
    for (const warning of run.warnings) log.warn(formatIssue(warning));
    // Promotion gate (program/pipeline/gate.ts, README, "Promotion gate"): what an override let through is said every time.
    for (const o of run.gate?.overridden ?? []) log.warn(`promotion override: image ${o.image} is deployed although ${o.evidence}; reason: ${o.reason}`);
    for (const image of run.gate?.invalidOverrides ?? []) log.warn(`fleet:promotionOverride for ${image} has no reason and does not count`);
    if (run.stop) return await stop(run.stop.summary, run.stop.issues, run.stop.details);
    const plan = run.plan!;

    const { devices, rollouts } = declareFleet(plan, settings.rollout, { devicesPerSet: settings.devicesPerSet, policy: settings.policy });
    // The per-device summary (for `fleet status` and `fleet audit`) is a secret only so that previews
    // print `[secret]` instead of a line per device (36 KB at 100 devices); nothing in it is
    // confidential. Read it with `pulumi stack output devices --show-secrets`.
    return {
      ring: settings.ring,
      deviceCount: plan.devices.length,
      devices: secret(devices),
      images: plan.images.map((i) => i.name),
      otherRings: plan.otherRings.length,
      // Image → where its rollout stands: the scheduled workflow runs an up only while one is under way.
      rollouts,
    };
  } finally {
    mender.close();
  }
}

const outputs = main();
// The engine awaits the exported promise; this only keeps node from warning that a rejection
// (a validation error) was handled late.
outputs.catch(() => undefined);
export = outputs;
