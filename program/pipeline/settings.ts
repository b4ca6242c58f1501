// The stack's settings: the one place that reads the `fleet:` configuration keys (and the
// `mender:` ones the program's own client needs). The program (index.ts, from the engine's
// runtime) and `fleet plan` (cli/stack-pipeline.ts, from `pulumi config`) both hand the
// stack's configuration here as a plain map, so both plan with the same values.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isNode, LineCounter, parseDocument } from 'yaml';
import type { FleetIssue } from '../description/issues';
import { checkLookupEnv, LOOKUP_ENV_KEY } from '../description/lookup-env';
import type { SecretSource } from '../description/variables';
import { parseOverrides, PromotionOverride } from './gate';
import { menderSettingsFromConfig, ProviderSettings } from '../../provider/settings';
import { DEFAULT_TIMEOUT_SECONDS, RolloutPolicy } from '../../provider/types';
import { readRolloutPolicy, ROLLOUT_KEY, RolloutPolicy as WavePolicy } from '../../provider/rollout/policy';

/** A stack's configuration as the engine passes it to a program: full keys, strings (lists and maps as JSON). */
export interface StackConfig {
  /** The stack's name (the last part of org/project/stack). */
  stack: string;
  values: Readonly<Record<string, string | undefined>>;
  /** The full keys whose values are secret. */
  secretKeys: ReadonlySet<string>;
}

/** A setting that cannot be used; `key` names it so the summary can say which. */
export interface SettingsIssue extends FleetIssue {
  key: string;
}

export interface StackSettings {
  stack: string;
  /** The ring the stack applies: fleet:branch, else the stack's name. */
  ring: string;
  /** fleet:path, else FLEET_PATH, else fleet (relative to the project folder). */
  fleetDir: string;
  /** fleet:strict: stale host_vars and devices unknown to Mender are errors. */
  strict: boolean;
  /** fleet:templates: the template folder inside the fleet folder. */
  templates?: string;
  /** fleet:defaultRing: the ring of a device that names none. */
  defaultRing?: string;
  /** fleet:promoteFrom: the ring whose finished deployments let an image in (the promotion gate). */
  promoteFrom?: string;
  /** fleet:promotionOverride: images let through without that evidence, each with a reason. */
  promotionOverrides: PromotionOverride[];
  /** What the templates may read: fleet:lookupEnv's names of the environment, and the fleet: keys (secret ones stay secret). */
  secrets: SecretSource;
  /** fleet:maxFailurePercent, fleet:rolloutTimeoutSeconds and fleet:pollMilliseconds. */
  rollout: Required<Pick<RolloutPolicy, 'maxFailureRatio' | 'timeoutSeconds' | 'pollSeconds'>>;
  /** fleet:rollout, when the stack sets it: waves, soak, gate, timeouts and pause (without it, one wave and `rollout`'s limits). */
  policy?: WavePolicy;
  /** Settings that still work but should change (a key the policy replaced). */
  warnings: FleetIssue[];
  /** fleet:devicesPerConfigurationSet. */
  devicesPerSet?: number;
  /** mender:* (else MENDER_* of the environment): how the program's own client reaches Mender. */
  mender: ProviderSettings;
  /** Settings that cannot be used; nothing may be planned while there are any. */
  issues: SettingsIssue[];
}

const DEFAULT_POLL_MILLISECONDS = 2000;

const PREFIX = 'fleet:';

/**
 * The stack's settings. `projectDir` is the folder of Pulumi.yaml (fleet:path is relative to
 * it); `env` is the environment lookup('env', …) and FLEET_PATH are read from.
 */
export function readStackSettings(config: StackConfig, options: { projectDir: string; env: NodeJS.ProcessEnv }): StackSettings {
  const { values } = config;
  const stackFile = `Pulumi.${config.stack}.yaml`;
  const issues: SettingsIssue[] = [];
  // Empty means unset: Pulumi.yaml's defaults for these are "".
  const text = (key: string) => values[PREFIX + key] || undefined;
  const invalid = (key: string, message: string) => issues.push({ key: PREFIX + key, file: stackFile, message: `${PREFIX}${key} ${message}` });

  const json = (key: string, what: string): unknown => {
    const raw = text(key);
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      invalid(key, `is not ${what} (got ${JSON.stringify(raw)})`);
      return undefined;
    }
  };
  // As pulumi.Config's getBoolean and getNumber read them, but as an issue instead of a throw.
  const flag = (key: string): boolean => {
    const raw = text(key);
    if (raw === undefined || raw === 'false') return false;
    if (raw === 'true') return true;
    invalid(key, `must be true or false (got ${JSON.stringify(raw)})`);
    return false;
  };
  const number = (key: string): number | undefined => {
    const raw = text(key);
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (Number.isNaN(value)) invalid(key, `must be a number (got ${JSON.stringify(raw)})`);
    return Number.isNaN(value) ? undefined : value;
  };

  const lookupEnv = checkLookupEnv(json('lookupEnv', 'a list'), `${stackFile} (or Pulumi.yaml's default)`, () => undefined);
  issues.push(...lookupEnv.issues.map((issue) => ({ ...issue, key: LOOKUP_ENV_KEY })));
  let promotionOverrides: PromotionOverride[] = [];
  try {
    promotionOverrides = promotionOverridesOf(values);
  } catch (error) {
    issues.push({ key: `${PREFIX}promotionOverride`, file: stackFile, message: (error as Error).message });
  }

  const legacy = { maxFailurePercent: number('maxFailurePercent'), rolloutTimeoutSeconds: number('rolloutTimeoutSeconds') };
  const policy = readRolloutPolicy(json('rollout', 'a map'), stackFile, stackFileLines(path.join(options.projectDir, stackFile), `${PREFIX}rollout`), legacy);
  issues.push(...policy.issues.map((issue) => ({ ...issue, key: ROLLOUT_KEY })));
  const warnings: FleetIssue[] = policy.warnings.map((message) => ({ file: stackFile, message }));

  const fleetKeys = Object.keys(values).filter((key) => key.startsWith(PREFIX));
  const secrets: SecretSource = {
    env: options.env,
    lookupEnv: lookupEnv.names,
    lookupEnvSource: `${stackFile} or Pulumi.yaml`,
    // lookup('config', KEY) reads the fleet: keys without their namespace.
    config: Object.fromEntries(fleetKeys.map((key) => [key.slice(PREFIX.length), values[key]])),
    secretConfigKeys: new Set(fleetKeys.filter((key) => config.secretKeys.has(key)).map((key) => key.slice(PREFIX.length))),
  };

  return {
    stack: config.stack,
    ring: text('branch') ?? config.stack,
    // FLEET_PATH lets tests and benchmarks point a stack at another fleet without editing its config.
    fleetDir: path.resolve(options.projectDir, text('path') ?? (options.env.FLEET_PATH || 'fleet')),
    strict: flag('strict'),
    templates: text('templates'),
    defaultRing: text('defaultRing'),
    promoteFrom: text('promoteFrom'),
    promotionOverrides,
    secrets,
    rollout: {
      maxFailureRatio: (legacy.maxFailurePercent ?? 0) / 100,
      timeoutSeconds: legacy.rolloutTimeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
      pollSeconds: (number('pollMilliseconds') ?? DEFAULT_POLL_MILLISECONDS) / 1000,
    },
    ...(text('rollout') !== undefined ? { policy: policy.policy } : {}),
    warnings,
    devicesPerSet: number('devicesPerConfigurationSet'),
    mender: menderSettingsFromConfig((key) => values[key], options.env),
    issues,
  };
}

/**
 * fleet:promotionOverride of a configuration: this stack's, or a past update's (the audit reads
 * what was in force then). Throws when it is malformed.
 */
export function promotionOverridesOf(values: Readonly<Record<string, string | undefined>>): PromotionOverride[] {
  return parseOverrides(values[`${PREFIX}promotionOverride`]);
}

/** The one-line summary of unusable settings (the engine shows only a program error's first line). */
export function settingsSummary(issues: SettingsIssue[]): string {
  const keys = [...new Set(issues.map((issue) => issue.key))];
  return `the stack's ${keys.join(', ')} ${keys.length === 1 ? 'is' : 'are'} not valid; nothing was sent to Mender`;
}

/**
 * Where a key path of a stack file's `config.<key>` is (its line), for messages about it; none
 * when the file cannot be read (the engine may hand the program a configuration from elsewhere).
 */
function stackFileLines(file: string, key: string): (keyPath?: (string | number)[]) => number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return () => undefined;
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  return (keyPath = []) => {
    for (let n = keyPath.length; n >= 0; n--) {
      const node = doc.getIn(['config', key, ...keyPath.slice(0, n)], true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
}
