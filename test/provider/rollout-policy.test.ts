// The rollout's pure parts (provider/rollout/): the policy as a stack file states it, which
// devices go in which wave, and the gate with the step it allows next.
import { DEFAULT_POLICY, readRolloutPolicy, RolloutPolicy } from '../../provider/rollout/policy';
import { cumulativeTargets, rolloutOrder, waveAssignment } from '../../provider/rollout/waves';
import { judge, nextStep, RolloutDevice } from '../../provider/rollout/gate';

const FILE = 'Pulumi.canary.yaml';
const lines: Record<string, number> = { '': 3, waves: 4, 'waves.1': 5, 'waves.1.percent': 5, soakMinutes: 6, bogus: 7, onFailure: 8 };
const lineOf = (p: (string | number)[] = []) => lines[p.join('.')];

describe('fleet:rollout, the policy', () => {
  it('reads the issue\'s example as written', () => {
    const { policy, issues, warnings } = readRolloutPolicy({
      waves: [{ devices: 1 }, { percent: 10 }, { percent: 100 }],
      soakMinutes: 60, maxFailurePercent: 5, minDevicesJudged: 3, deviceTimeoutMinutes: 240, onFailure: 'rollback', paused: false, waitMinutes: 10,
    }, FILE, lineOf);
    expect(issues).toEqual([]);
    expect(warnings).toEqual([]);
    expect(policy).toEqual({
      waves: [{ devices: 1 }, { percent: 10 }, { percent: 100 }],
      soakMinutes: 60, maxFailurePercent: 5, minDevicesJudged: 3, deviceTimeoutMinutes: 240, onFailure: 'rollback', paused: false, waitMinutes: 10,
    });
  });

  it('without one, a ring has one wave and the defaults', () => {
    expect(readRolloutPolicy(undefined, FILE, lineOf)).toEqual({ policy: DEFAULT_POLICY, issues: [], warnings: [] });
    expect(DEFAULT_POLICY.waves).toEqual([{ percent: 100 }]);
  });

  it('the old keys still work, with a warning naming the new one', () => {
    const { policy, warnings } = readRolloutPolicy(undefined, FILE, lineOf, { maxFailurePercent: 20, rolloutTimeoutSeconds: 600 });
    expect(policy.maxFailurePercent).toBe(20);
    expect(policy.waitMinutes).toBe(10);
    expect(policy.deviceTimeoutMinutes).toBe(10);
    expect(warnings).toEqual([
      'fleet:maxFailurePercent is replaced by fleet:rollout.maxFailurePercent; it still applies',
      'fleet:rolloutTimeoutSeconds is replaced by fleet:rollout.waitMinutes and .deviceTimeoutMinutes; it still applies to both',
    ]);
    // The policy's own value wins over the old key.
    expect(readRolloutPolicy({ maxFailurePercent: 5 }, FILE, lineOf, { maxFailurePercent: 20 }).policy.maxFailurePercent).toBe(5);
  });

  it.each([
    [{ bogus: 1 }, 'Pulumi.canary.yaml:7: fleet:rollout.bogus is not a rollout setting; the settings are waves, soakMinutes, maxFailurePercent, minDevicesJudged, deviceTimeoutMinutes, onFailure, paused, waitMinutes'],
    [{ waves: [{ percent: 50 }, { percent: 50 }] }, 'Pulumi.canary.yaml:5: fleet:rollout.waves[1] must target more than wave 1 (50 %): the targets are cumulative'],
    [{ waves: [{ devices: 5 }, { devices: 2 }] }, 'Pulumi.canary.yaml:5: fleet:rollout.waves[1] must target more than wave 1 (5 devices): the targets are cumulative'],
    [{ waves: [{ devices: 1 }, { percent: 150 }] }, 'Pulumi.canary.yaml:5: fleet:rollout.waves[1].percent must be a percentage from 1 to 100, not 150'],
    [{ waves: [{ devices: 1 }, { percent: 0 }] }, 'Pulumi.canary.yaml:5: fleet:rollout.waves[1].percent must be a percentage from 1 to 100, not 0'],
    [{ waves: [{ devices: 1, percent: 10 }] }, 'Pulumi.canary.yaml: fleet:rollout.waves[0] must be {devices: N} (a count) or {percent: P} (a share of the ring), one of the two'],
    [{ waves: [] }, 'Pulumi.canary.yaml:4: fleet:rollout.waves must be a non-empty list of cumulative targets, e.g. [{devices: 1}, {percent: 10}, {percent: 100}]'],
    [{ soakMinutes: -1 }, 'Pulumi.canary.yaml:6: fleet:rollout.soakMinutes must be a number from 0 to 43200, not -1'],
    [{ minDevicesJudged: 2.5 }, 'Pulumi.canary.yaml: fleet:rollout.minDevicesJudged must be a whole number from 1 to 1000000, not 2.5'],
    [{ onFailure: 'retry' }, 'Pulumi.canary.yaml:8: fleet:rollout.onFailure must be stop or rollback, not "retry"'],
    [{ paused: 'yes' }, 'Pulumi.canary.yaml: fleet:rollout.paused must be true or false, not "yes"'],
    [[1, 2], 'Pulumi.canary.yaml:3: fleet:rollout must be a map, e.g. {waves: [{devices: 1}, {percent: 100}], maxFailurePercent: 5}'],
  ])('refuses %j, naming the stack file and the key', (value, message) => {
    const { issues } = readRolloutPolicy(value, FILE, lineOf);
    expect(issues.map((i) => `${i.file}${i.line ? `:${i.line}` : ''}: ${i.message}`)).toEqual([message]);
  });
});

describe('waves', () => {
  it('cumulative targets: counts and shares (rounded up) of the devices that need the image; the last takes the rest', () => {
    expect(cumulativeTargets([{ devices: 1 }, { percent: 10 }, { percent: 100 }], 40)).toEqual([1, 4, 40]);
    expect(cumulativeTargets([{ percent: 1 }, { percent: 10 }, { percent: 100 }], 10_000)).toEqual([100, 1000, 10_000]);
    expect(cumulativeTargets([{ percent: 10 }, { percent: 50 }], 3)).toEqual([1, 3]);
    // A count larger than a small ring is the whole ring; a share below a count does not shrink.
    expect(cumulativeTargets([{ devices: 5 }, { percent: 10 }, { percent: 90 }], 4)).toEqual([4, 4, 4]);
    expect(cumulativeTargets([{ devices: 1 }, { percent: 100 }], 0)).toEqual([0, 0]);
  });

  it('the order is a hash of image and device id: the same whatever order Mender lists them in, another per image', () => {
    const ids = Array.from({ length: 40 }, (_, i) => `dev-${i}`);
    const order = rolloutOrder('img-2', ids);
    expect(rolloutOrder('img-2', [...ids].reverse())).toEqual(order);
    expect(new Set(order)).toEqual(new Set(ids));
    expect(rolloutOrder('img-3', ids)).not.toEqual(order);
  });

  it('assigns each device to one wave; devices that join later top up the running wave, or go to the next', () => {
    const ids = Array.from({ length: 40 }, (_, i) => `dev-${i}`);
    const policy = { waves: [{ devices: 1 }, { percent: 10 }, { percent: 100 }] };
    const waves = waveAssignment('img-2', policy, 40, [], ids);
    expect(waves.map((w) => w.length)).toEqual([1, 3, 36]);
    expect(new Set(waves.flat())).toEqual(new Set(ids));
    const rest = (started: string[][]) => ids.filter((id) => !started.flat().includes(id));
    // Wave 2 started with two of its three (a part lost in a crash): a joiner tops it up only
    // as far as its target, in the rollout's order; the rest goes to the last wave.
    const started = [waves[0], waves[1].slice(0, 2)];
    const later = waveAssignment('img-2', policy, 40, started, [...rest(started), 'new-1']);
    expect(later[0]).toEqual(waves[0]);
    expect(later[1]).toHaveLength(3);
    expect(later[1].slice(0, 2)).toEqual(waves[1].slice(0, 2));
    expect(new Set(later.flat())).toEqual(new Set([...ids, 'new-1']));
    // Once the last wave started, it takes every device that joins.
    const all = [waves[0], waves[1], waves[2]];
    expect(waveAssignment('img-2', policy, 40, all, ['new-1', 'new-2'])[2]).toEqual([...waves[2], ...rolloutOrder('img-2', ['new-1', 'new-2'])]);
    // The same devices whatever order they are listed in.
    expect(waveAssignment('img-2', policy, 40, [], [...ids].reverse())).toEqual(waves);
  });
});

describe('the gate and the next step', () => {
  const MIN = 60_000;
  const policy: RolloutPolicy = { ...DEFAULT_POLICY, waves: [{ devices: 1 }, { percent: 10 }, { percent: 100 }], soakMinutes: 30, maxFailurePercent: 10, minDevicesJudged: 3, deviceTimeoutMinutes: 60 };
  const ids = Array.from({ length: 40 }, (_, i) => `dev-${i}`);
  const waves = waveAssignment('img-2', policy, ids.length, [], ids);
  const at = (wave: number, status: RolloutDevice['status'], startedAt = 0) => (id: string): RolloutDevice => ({ id, wave, startedAt, status });

  it('starts wave 1 first, and nothing while paused', () => {
    expect(nextStep(waves, 0, [], policy, 0)).toMatchObject({ kind: 'start', wave: 1, of: 3, devices: waves[0] });
    expect(nextStep(waves, 0, [], { ...policy, paused: true }, 0)).toMatchObject({ kind: 'paused', wave: 1 });
  });

  it('waits while a device of the wave runs, until the device timeout; silence is never a pass', () => {
    const running = waves[0].map(at(1, 'downloading', 0));
    expect(nextStep(waves, 1, running, policy, 30 * MIN)).toMatchObject({ kind: 'wait', wave: 1, running: waves[0] });
    // Timed out: judged, and failed; one device judged is below minDevicesJudged, so no breach yet.
    const late = nextStep(waves, 1, running, policy, 61 * MIN);
    expect(late.figures).toMatchObject({ judged: 1, timedOut: waves[0], minimumReached: false, breach: false });
    expect(late).toMatchObject({ kind: 'soak', wave: 1 });
  });

  it('after a wave passed, soaks, then starts the next; paused holds it', () => {
    const done = waves[0].map(at(1, 'success', 0));
    expect(nextStep(waves, 1, done, policy, 10 * MIN, 10 * MIN)).toMatchObject({ kind: 'soak', wave: 1, until: 40 * MIN });
    expect(nextStep(waves, 1, done, policy, 40 * MIN, 10 * MIN)).toMatchObject({ kind: 'start', wave: 2, devices: waves[1] });
    expect(nextStep(waves, 1, done, { ...policy, paused: true }, 40 * MIN, 10 * MIN)).toMatchObject({ kind: 'paused', wave: 1 });
  });

  it('judges the failure ratio over every wave of the image only once minDevicesJudged are judged', () => {
    const two = [...waves[0].map(at(1, 'success')), at(2, 'failure')(waves[1][0])];
    expect(judge(two, policy, 0)).toMatchObject({ judged: 2, failed: [waves[1][0]], minimumReached: false, breach: false, failurePercent: 50 });
    const three = [...two, at(2, 'success')(waves[1][1])];
    expect(judge(three, policy, 0)).toMatchObject({ judged: 3, minimumReached: true, breach: true });
    expect(nextStep(waves, 2, three, policy, 0)).toMatchObject({ kind: 'breach', action: 'stop' });
    expect(nextStep(waves, 2, three, { ...policy, onFailure: 'rollback' }, 0)).toMatchObject({ kind: 'breach', action: 'rollback' });
    // Within the limit: 1 failed of 12 judged is 8.3 %.
    const eleven = [...waves[0].map(at(1, 'success')), ...waves[1].map(at(2, 'success')), ...waves[2].slice(0, 7).map(at(3, 'success')), at(3, 'failure')(waves[2][7])];
    expect(judge(eleven, policy, 0)).toMatchObject({ judged: 12, breach: false });
  });

  it('a device joined the ring during a wave keeps it open until it is in the deployment and finished', () => {
    const joined = waveAssignment('img-2', policy, ids.length, [waves[0]], [...ids.filter((id) => !waves[0].includes(id)), 'new-1']);
    const done = waves[0].map(at(1, 'success'));
    // Wave 1's target is one device, reached: the joiner waits for a later wave.
    expect(nextStep(joined, 1, done, policy, 0, 0)).toMatchObject({ kind: 'soak', wave: 1 });
    const last = waveAssignment('img-2', policy, ids.length, waves, ['new-1']);
    const allDone = waves.flatMap((w, i) => w.map(at(i + 1, 'success')));
    expect(nextStep(last, 3, allDone, policy, 0, 0)).toMatchObject({ kind: 'wait', wave: 3, running: [], missing: ['new-1'] });
  });

  it('an empty wave passes at once, with no soak', () => {
    const small = waveAssignment('img-2', { waves: [{ devices: 1 }, { percent: 50 }, { percent: 100 }] }, 1, [], ['dev-0']);
    expect(small.map((w) => w.length)).toEqual([1, 0, 0]);
    expect(nextStep(small, 1, [at(1, 'success')('dev-0')], policy, 0, 0)).toMatchObject({ kind: 'done', of: 3 });
  });

  it('is done when the last wave finished; decommissioned devices are not judged', () => {
    const all = waves.flatMap((w, i) => w.map(at(i + 1, 'success')));
    all[5] = { ...all[5], status: 'decommissioned' };
    const step = nextStep(waves, 3, all, policy, 0, 0);
    expect(step).toMatchObject({ kind: 'done', of: 3 });
    expect(step.figures.judged).toBe(39);
  });
});
