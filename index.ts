// The fleet program: fleet files → validated fleet → plus Mender facts → plan → resources.
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { formatIssue } from './program/description/issues';
import { validateFleetOffline } from './program/description/validate';
import { gatherFacts } from './program/facts';
import { planRing } from './program/plan';
import { declareFleet } from './program/stack';
import { configure, menderClient } from './provider/settings';

const fleetConfig = new pulumi.Config('fleet');
const ring = fleetConfig.get('branch') ?? pulumi.getStack();
// FLEET_PATH lets tests and benchmarks point a stack at another fleet without editing its config.
const fleetDir = path.resolve(fleetConfig.get('path') ?? process.env.FLEET_PATH ?? 'fleet');

// Values the templates may read with lookup('config', KEY); secret ones stay secret.
const secretConfigKeys = new Set<string>(
  (JSON.parse(process.env.PULUMI_CONFIG_SECRET_KEYS ?? '[]') as string[]).filter((k) => k.startsWith('fleet:')).map((k) => k.slice('fleet:'.length)),
);
const configValues = Object.fromEntries(
  Object.entries(pulumi.runtime.allConfig())
    .filter(([key]) => key.startsWith('fleet:'))
    .map(([key, value]) => [key.slice('fleet:'.length), value]),
);
const secrets = { env: process.env, config: configValues, secretConfigKeys };

async function main() {
  const offline = validateFleetOffline(fleetDir, secrets);
  if (!offline.fleet) {
    throw new pulumi.RunError(`the fleet description in ${fleetDir} has errors; nothing was sent to Mender:\n${offline.issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`);
  }
  const fleet = offline.fleet;

  // The token is read as plain text only to talk to Mender from this process; it never
  // becomes a resource input.
  configure({ serverUrl: pulumi.runtime.getConfig('mender:serverUrl'), token: pulumi.runtime.getConfig('mender:token') });
  let facts;
  try {
    facts = await gatherFacts(menderClient(), fleet.devices.map((d) => d.id));
  } catch (error) {
    throw new pulumi.RunError(`cannot read the fleet's facts from Mender: ${(error as Error).message}`);
  }

  const plan = planRing(fleet, facts, { ring, strict: fleetConfig.getBoolean('strict') ?? false, secrets });
  for (const warning of plan.warnings) pulumi.log.warn(formatIssue(warning));
  if (plan.errors.length > 0) {
    throw new pulumi.RunError(`the fleet cannot be planned for ring ${ring}; nothing was sent to Mender:\n${plan.errors.map((i) => `  ${formatIssue(i)}`).join('\n')}`);
  }

  const devices = declareFleet(plan, {
    maxFailureRatio: (fleetConfig.getNumber('maxFailurePercent') ?? 0) / 100,
    timeoutSeconds: fleetConfig.getNumber('rolloutTimeoutSeconds') ?? 900,
    pollSeconds: (fleetConfig.getNumber('pollMilliseconds') ?? 2000) / 1000,
  });
  return { ring, devices, images: plan.images.map((i) => i.name), otherRings: plan.otherRings.length };
}

export = main();
