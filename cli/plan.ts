// `fleet plan`: what an `up` of a ring's stack would do, in the fleet's terms. It gathers what
// the program would (the stack's configuration, the fleet files, Mender's facts, the promotion
// gate's evidence), plus what the stack applied last and what Mender holds as each device's
// configuration, with read requests only; program/fleet-plan.ts and program/plan-report.ts
// turn that into the plan.
import * as path from 'node:path';
import { Command } from 'commander';
import { checkLookupEnv } from '../program/description/lookup-env';
import { validateFleetOffline } from '../program/description/validate';
import { gatherFacts } from '../program/facts';
import { fleetPlan, FleetPlan, MenderConfiguration } from '../program/fleet-plan';
import { planRing } from '../program/plan';
import { planMarkdown, planText } from '../program/plan-report';
import { enforcePromotionGate } from '../program/promotion';
import { deviceConfigurations } from '../provider/mender/observed';
import { clientFromSettings, menderSettingsFromConfig } from '../provider/settings';
import { pulumiCliJson, repoRoot } from './workspace';
import { appliedDevices } from './status';

/** `pulumi config --json` of one key: secrets in clear (`--show-secrets`), kept in this process. */
interface ConfigEntry {
  value?: string;
  objectValue?: unknown;
  secret?: boolean;
}

export interface PlanOptions {
  stack: string;
  env?: NodeJS.ProcessEnv;
  /** A stack configuration file other than Pulumi.<stack>.yaml (pulumi's --config-file). */
  configFile?: string;
}

/** Everything `fleet plan` reads, then the plan. Sends no mutating request to Mender. */
export async function gatherFleetPlan(options: PlanOptions): Promise<FleetPlan> {
  const env = options.env ?? process.env;
  const configArgs = options.configFile ? ['--config-file', path.resolve(options.configFile)] : [];
  const config = await pulumiCliJson<Record<string, ConfigEntry>>(['config', '--json', '--show-secrets', '--stack', options.stack, ...configArgs], { env });
  const get = (key: string) => config[key]?.value;

  // As index.ts reads them, so the plan is the program's.
  const ring = get('fleet:branch') || options.stack.split('/').pop()!;
  const fleetDir = path.resolve(repoRoot, get('fleet:path') || env.FLEET_PATH || 'fleet');
  const fleetConfig = Object.entries(config).filter(([key]) => key.startsWith('fleet:'));
  const lookupEntry = config['fleet:lookupEnv'];
  const lookupEnv = checkLookupEnv(lookupEntry?.objectValue ?? (lookupEntry?.value ? (JSON.parse(lookupEntry.value) as unknown) : undefined), `Pulumi.${options.stack}.yaml (or Pulumi.yaml's default)`, () => undefined);
  const secrets = {
    env,
    lookupEnv: lookupEnv.names,
    lookupEnvSource: `Pulumi.${options.stack}.yaml or Pulumi.yaml`,
    config: Object.fromEntries(fleetConfig.map(([key, entry]) => [key.slice('fleet:'.length), entry.value])),
    secretConfigKeys: new Set(fleetConfig.filter(([, entry]) => entry.secret).map(([key]) => key.slice('fleet:'.length))),
  };
  const applied = await appliedDevices(options.stack, env);
  const base = { stack: options.stack, ring, applied, configurations: new Map<string, MenderConfiguration>() };

  if (lookupEnv.issues.length > 0) return fleetPlan({ ...base, issues: lookupEnv.issues });
  const offline = validateFleetOffline(fleetDir, secrets);
  if (!offline.fleet) return fleetPlan({ ...base, issues: offline.issues });
  const fleet = offline.fleet;

  const client = clientFromSettings(menderSettingsFromConfig(get, env));
  try {
    const facts = await gatherFacts(client, fleet.devices.map((d) => d.id));
    const plan = planRing(fleet, facts, { ring, strict: get('fleet:strict') === 'true', secrets });
    const planned = { ...base, issues: [], fleet, facts, plan };
    if (plan.errors.length > 0) return fleetPlan(planned);

    const overrides = config['fleet:promotionOverride'];
    const gate = await enforcePromotionGate(client, plan, { promoteFrom: get('fleet:promoteFrom'), overrides: overrides?.objectValue ?? overrides?.value });
    const configured = plan.devices.filter((d) => d.configuration);
    const configurations = new Map<string, MenderConfiguration>();
    for (const [id, state] of await deviceConfigurations(client, configured.map((d) => d.id))) {
      if (state instanceof Error) throw state;
      // A device deviceconfig knows nothing of yet holds no configuration.
      if (state) configurations.set(id, { configured: state.configured, reported: state.reported });
    }
    return fleetPlan({ ...planned, gate, configurations });
  } finally {
    client.close();
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
      const plan = await gatherFleetPlan({ stack: opts.stack, configFile: opts.configFile });
      process.stdout.write(opts.markdown ? planMarkdown(plan) : planText(plan));
    });
}
