// The fleet program: fleet files → validated fleet → plus Mender facts → plan → resources.
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { FleetIssue, formatIssue } from './program/description/issues';
import { checkLookupEnv } from './program/description/lookup-env';
import type { FleetDescription } from './program/description/load';
import { validateFleetOffline } from './program/description/validate';
import { gatherFacts } from './program/facts';
import { planRing } from './program/plan';
import { describeViolations, enforcePromotionGate } from './program/promotion';
import { declareFleet } from './program/stack';
import type { MenderClient } from './provider/mender';
import { clientFromSettings, menderSettingsFromConfig } from './provider/settings';

const fleetConfig = new pulumi.Config('fleet');
const ring = fleetConfig.get('branch') || pulumi.getStack();
// FLEET_PATH lets tests and benchmarks point a stack at another fleet without editing its config.
const fleetDir = path.resolve(fleetConfig.get('path') || process.env.FLEET_PATH || 'fleet');

// Values the templates may read with lookup('config', KEY); secret ones stay secret.
const secretConfigKeys = new Set<string>(
  (JSON.parse(process.env.PULUMI_CONFIG_SECRET_KEYS ?? '[]') as string[]).filter((k) => k.startsWith('fleet:')).map((k) => k.slice('fleet:'.length)),
);
const configValues = Object.fromEntries(
  Object.entries(pulumi.runtime.allConfig())
    .filter(([key]) => key.startsWith('fleet:'))
    .map(([key, value]) => [key.slice('fleet:'.length), value]),
);
// lookup('env', NAME) reads only the names fleet:lookupEnv allows (program/description/lookup-env.ts).
const stackFile = `Pulumi.${pulumi.getStack()}.yaml`;
const lookupEnv = checkLookupEnv(fleetConfig.getObject<unknown>('lookupEnv'), `${stackFile} (or Pulumi.yaml's default)`, () => undefined);
const secrets = { env: process.env, lookupEnv: lookupEnv.names, lookupEnvSource: `${stackFile} or Pulumi.yaml`, config: configValues, secretConfigKeys };

// The engine shows only the first line of a program error, so each issue is its own message.
async function stop(summary: string, issues: FleetIssue[]): Promise<never> {
  await Promise.all(issues.map((issue) => pulumi.log.error(formatIssue(issue))));
  throw new pulumi.RunError(summary);
}

async function main() {
  if (lookupEnv.issues.length > 0) return stop(`the stack's fleet:lookupEnv is not valid; nothing was sent to Mender`, lookupEnv.issues);
  const strict = fleetConfig.getBoolean('strict') ?? false;
  const offline = validateFleetOffline(fleetDir, secrets, { strict, templates: fleetConfig.get('templates') || undefined });
  for (const warning of offline.warnings) pulumi.log.warn(formatIssue(warning));
  if (!offline.fleet) {
    return stop(`the fleet description in ${fleetDir} has ${offline.issues.length} error(s); nothing was sent to Mender`, offline.issues);
  }
  const fleet = offline.fleet;

  // The program's own client, from the stack configuration as the provider's `configure` reads
  // it. Secrets are read as plain text only to talk to Mender from this process; they never
  // become resource inputs.
  let client: MenderClient;
  try {
    client = clientFromSettings(menderSettingsFromConfig((key) => pulumi.runtime.getConfig(key)));
  } catch (error) {
    throw new pulumi.RunError(`cannot read the fleet's facts from Mender: ${(error as Error).message}`);
  }
  try {
    return await planAndDeclare(fleet, client, strict);
  } finally {
    client.close();
  }
}

async function planAndDeclare(fleet: FleetDescription, client: MenderClient, strict: boolean) {
  let facts;
  try {
    facts = await gatherFacts(client, fleet.devices.map((d) => d.id));
  } catch (error) {
    throw new pulumi.RunError(`cannot read the fleet's facts from Mender: ${(error as Error).message}`);
  }

  const plan = planRing(fleet, facts, { ring, strict, secrets, defaultRing: fleetConfig.get('defaultRing') || undefined });
  for (const warning of plan.warnings) pulumi.log.warn(formatIssue(warning));
  if (plan.errors.length > 0) {
    return stop(`the fleet cannot be planned for ring ${ring} (${plan.errors.length} error(s)); nothing was sent to Mender`, plan.errors);
  }

  // Promotion gate (program/promotion.ts, docs/rollouts.md, "The promotion gate"): a ring deploys only images that
  // finished on the ring fleet:promoteFrom names, unless fleet:promotionOverride names the image with a reason.
  const gate = await enforcePromotionGate(client, plan, { promoteFrom: fleetConfig.get('promoteFrom'), overrides: fleetConfig.getObject('promotionOverride') }).catch((error: Error) => {
    throw new pulumi.RunError(`cannot check the promotion gate of ring ${ring}: ${error.message}`);
  });
  for (const o of gate?.overridden ?? []) pulumi.log.warn(`promotion override: image ${o.image} is deployed although ${o.evidence}; reason: ${o.reason}`);
  for (const image of gate?.invalidOverrides ?? []) pulumi.log.warn(`fleet:promotionOverride for ${image} has no reason and does not count`);
  if (gate && gate.violations.length > 0) {
    const refusal = describeViolations(ring, gate.sourceRing, gate.violations);
    await Promise.all(refusal.details.map((line) => pulumi.log.error(line)));
    throw new pulumi.RunError(refusal.summary);
  }

  const devices = declareFleet(plan, {
    maxFailureRatio: (fleetConfig.getNumber('maxFailurePercent') ?? 0) / 100,
    timeoutSeconds: fleetConfig.getNumber('rolloutTimeoutSeconds') ?? 900,
    pollSeconds: (fleetConfig.getNumber('pollMilliseconds') ?? 2000) / 1000,
  }, { devicesPerSet: fleetConfig.getNumber('devicesPerConfigurationSet') });
  // The per-device summary (for `fleet status` and `fleet audit`) is a secret only so that previews
  // print `[secret]` instead of a line per device (36 KB at 100 devices); nothing in it is
  // confidential. Read it with `pulumi stack output devices --show-secrets`.
  return {
    ring,
    deviceCount: plan.devices.length,
    devices: pulumi.secret(devices),
    images: plan.images.map((i) => i.name),
    otherRings: plan.otherRings.length,
  };
}

const outputs = main();
// The engine awaits the exported promise; this only keeps node from warning that a rejection
// (a validation error) was handled late.
outputs.catch(() => undefined);
export = outputs;
