// A ring's rollout policy (`fleet:rollout` in Pulumi.<ring>.yaml): how an image reaches the
// ring in waves, what stops it, and how long an `up` waits. Checked before anything is sent:
// a stack file is reviewed like the fleet, and a typo there must not roll an image to a whole
// ring at once.
import type { FleetIssue } from '../../program/description/issues';

export const ROLLOUT_KEY = 'fleet:rollout';

/** A wave's cumulative target: after it, this many of the ring's devices that need the image have been started. */
export type WaveTarget = { devices: number } | { percent: number };

export type OnFailure = 'stop' | 'rollback';

export interface RolloutPolicy {
  waves: WaveTarget[];
  /** After a wave passed, how long before the next one starts. */
  soakMinutes: number;
  /** Failed over judged devices of this image in this ring, at most. */
  maxFailurePercent: number;
  /** No ratio is judged before this many devices finished or timed out. */
  minDevicesJudged: number;
  /** A device not finished this long after its wave started counts as failed. */
  deviceTimeoutMinutes: number;
  onFailure: OnFailure;
  /** No new wave starts; what runs goes on. */
  paused: boolean;
  /** How long one `up` waits for progress before it returns. */
  waitMinutes: number;
}

/** Without `fleet:rollout`: one wave, and the waits and limits of before. */
export const DEFAULT_POLICY: RolloutPolicy = {
  waves: [{ percent: 100 }],
  soakMinutes: 0,
  maxFailurePercent: 0,
  minDevicesJudged: 1,
  deviceTimeoutMinutes: 15,
  onFailure: 'stop',
  paused: false,
  waitMinutes: 15,
};

/** The settings of before that the policy took over: still read, with a warning naming the new key. */
export interface LegacyRolloutSettings {
  /** `fleet:maxFailurePercent` */
  maxFailurePercent?: number;
  /** `fleet:rolloutTimeoutSeconds` */
  rolloutTimeoutSeconds?: number;
}

export interface PolicyResult {
  policy: RolloutPolicy;
  issues: FleetIssue[];
  warnings: string[];
}

const KEYS: (keyof RolloutPolicy)[] = ['waves', 'soakMinutes', 'maxFailurePercent', 'minDevicesJudged', 'deviceTimeoutMinutes', 'onFailure', 'paused', 'waitMinutes'];

/**
 * Reads a `fleet:rollout` value from `file` (the stack file); `lineOf` locates a key path in it
 * when known. Every problem is an issue naming the file and the key; none is fixed up silently.
 */
export function readRolloutPolicy(
  value: unknown,
  file: string,
  lineOf: (path?: (string | number)[]) => number | undefined,
  legacy: LegacyRolloutSettings = {},
): PolicyResult {
  const issues: FleetIssue[] = [];
  const warnings: string[] = [];
  const policy: RolloutPolicy = { ...DEFAULT_POLICY, waves: [...DEFAULT_POLICY.waves] };
  const issue = (keyPath: (string | number)[], message: string) =>
    issues.push({ file, line: lineOf(keyPath), message: `${[ROLLOUT_KEY, ...keyPath].map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('')} ${message}` });

  if (legacy.maxFailurePercent !== undefined) {
    warnings.push(`fleet:maxFailurePercent is replaced by ${ROLLOUT_KEY}.maxFailurePercent; it still applies${value === undefined ? '' : ' unless the policy sets it'}`);
    policy.maxFailurePercent = legacy.maxFailurePercent;
  }
  if (legacy.rolloutTimeoutSeconds !== undefined) {
    warnings.push(`fleet:rolloutTimeoutSeconds is replaced by ${ROLLOUT_KEY}.waitMinutes and .deviceTimeoutMinutes; it still applies to both${value === undefined ? '' : ' unless the policy sets them'}`);
    policy.waitMinutes = legacy.rolloutTimeoutSeconds / 60;
    policy.deviceTimeoutMinutes = legacy.rolloutTimeoutSeconds / 60;
  }
  if (value === undefined || value === null) return { policy, issues, warnings };
  if (typeof value !== 'object' || Array.isArray(value)) {
    issue([], 'must be a map, e.g. {waves: [{devices: 1}, {percent: 100}], maxFailurePercent: 5}');
    return { policy, issues, warnings };
  }
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!(KEYS as string[]).includes(key)) issue([key], `is not a rollout setting; the settings are ${KEYS.join(', ')}`);
  }

  const number = (key: keyof RolloutPolicy, min: number, max: number, integer: boolean): number | undefined => {
    if (!Object.prototype.hasOwnProperty.call(raw, key)) return undefined;
    const v = raw[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < min || v > max) {
      issue([key], `must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, not ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  };
  const assign = <K extends keyof RolloutPolicy>(key: K, v: RolloutPolicy[K] | undefined) => {
    if (v !== undefined) policy[key] = v;
  };
  assign('soakMinutes', number('soakMinutes', 0, 60 * 24 * 30, false));
  assign('maxFailurePercent', number('maxFailurePercent', 0, 100, false));
  assign('minDevicesJudged', number('minDevicesJudged', 1, 1_000_000, true));
  assign('deviceTimeoutMinutes', number('deviceTimeoutMinutes', 1, 60 * 24 * 90, false));
  assign('waitMinutes', number('waitMinutes', 0, 24 * 60, false));
  if (Object.prototype.hasOwnProperty.call(raw, 'onFailure')) {
    if (raw.onFailure === 'stop' || raw.onFailure === 'rollback') policy.onFailure = raw.onFailure;
    else issue(['onFailure'], `must be stop or rollback, not ${JSON.stringify(raw.onFailure)}`);
  }
  if (Object.prototype.hasOwnProperty.call(raw, 'paused')) {
    if (typeof raw.paused === 'boolean') policy.paused = raw.paused;
    else issue(['paused'], `must be true or false, not ${JSON.stringify(raw.paused)}`);
  }
  if (Object.prototype.hasOwnProperty.call(raw, 'waves')) {
    const waves = readWaves(raw.waves, issue);
    if (waves) policy.waves = waves;
  }
  return { policy, issues, warnings };
}

function readWaves(value: unknown, issue: (keyPath: (string | number)[], message: string) => void): WaveTarget[] | undefined {
  if (!Array.isArray(value) || value.length === 0) {
    issue(['waves'], 'must be a non-empty list of cumulative targets, e.g. [{devices: 1}, {percent: 10}, {percent: 100}]');
    return undefined;
  }
  const waves: WaveTarget[] = [];
  let ok = true;
  value.forEach((item: unknown, index) => {
    const keys = item && typeof item === 'object' && !Array.isArray(item) ? Object.keys(item) : [];
    const w = item as Record<string, unknown>;
    if (keys.length !== 1 || !(keys[0] === 'devices' || keys[0] === 'percent')) {
      issue(['waves', index], 'must be {devices: N} (a count) or {percent: P} (a share of the ring), one of the two');
      ok = false;
    } else if (keys[0] === 'devices') {
      if (typeof w.devices !== 'number' || !Number.isInteger(w.devices) || w.devices < 1) {
        issue(['waves', index, 'devices'], `must be a whole number of at least 1, not ${JSON.stringify(w.devices)}`);
        ok = false;
      } else waves.push({ devices: w.devices });
    } else if (typeof w.percent !== 'number' || !Number.isFinite(w.percent) || w.percent < 1 || w.percent > 100) {
      issue(['waves', index, 'percent'], `must be a percentage from 1 to 100, not ${JSON.stringify(w.percent)}`);
      ok = false;
    } else waves.push({ percent: w.percent });
  });
  if (!ok) return undefined;
  // Targets are cumulative: a count or a share that does not grow is a mistake, not a no-op.
  // Counts and shares compare only among themselves; their order across kinds depends on the
  // ring's size, which wavePlan settles.
  for (let i = 1; i < waves.length; i++) {
    for (let j = 0; j < i; j++) {
      const [a, b] = [waves[j], waves[i]];
      const grows = 'devices' in a && 'devices' in b ? b.devices > a.devices : 'percent' in a && 'percent' in b ? b.percent > a.percent : true;
      if (!grows) {
        issue(['waves', i], `must target more than wave ${j + 1} (${describe(a)}): the targets are cumulative`);
        return undefined;
      }
    }
  }
  return waves;
}

export function describe(w: WaveTarget): string {
  return 'devices' in w ? `${w.devices} device${w.devices === 1 ? '' : 's'}` : `${w.percent} %`;
}
