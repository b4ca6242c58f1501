// A rollout in waves that outlives many ups, through the real CLI against the emulator, whose
// clock the test moves on (its Date header is Mender's time, which soaks and device timeouts
// are measured in). 41 devices, waves [1, 10 %, 100 %] (1, then 4 more, then the other 36), a
// soak, the gate judged from 3 devices at 10 %, and in the last wave one device that never polls,
// two that fail the install and two that install, reboot and roll back by themselves.
import { LoggedRequest, mutating } from '../helpers/emulator';
import { fleetCli } from '../helpers/pulumi';
import { DEPLOYMENTS, PI4, RolloutRing, rolloutRing } from '../helpers/rollout-ring';
import { step } from '../helpers/step';
import { rolloutOrder } from '../../provider/rollout/waves';

const TOKEN = 'rollout-waves-token-5b2e';
const OLD = 'pi4-2026.10';
const NEW = 'pi4-2026.11';
const MINUTE = 60_000;
const ids = Array.from({ length: 41 }, (_, i) => `c0000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
// The rollout's own order (a hash of image and id): the test knows which device is in which wave.
const order = rolloutOrder(NEW, ids);
const wave1 = order.slice(0, 1);
const wave2 = order.slice(1, 5);
const wave3 = order.slice(5);
const silent = wave3[35];
const failsInstall = wave3.slice(0, 2);
const rollsBack = wave3.slice(2, 4);
const failing = [...failsInstall, ...rollsBack];

// The failing devices are slow, so the fast devices of their wave are judged first: 4 failed of
// 40 judged is 10 %, within the limit, until the silent device times out (5 of 41).
const behaviorOf = (id: string) =>
  id === silent ? { offline: true } : failsInstall.includes(id) ? { fail_install: [NEW], slow: true } : rollsBack.includes(id) ? { rollback_after_reboot: [NEW], slow: true } : undefined;
const world = {
  artifacts: [OLD, NEW].map((name) => ({ name, device_types: [PI4] })),
  devices: ids.map((id) => ({ id, device_type: PI4, artifact_name: OLD, ...(behaviorOf(id) ? { behavior: behaviorOf(id) } : {}) })),
  tokens: [TOKEN],
  users: [],
};
const created = (requests: LoggedRequest[]) => requests.filter((r) => r.method === 'POST' && r.path === DEPLOYMENTS);

describe('a rollout in waves with a soak, a gate, a silent device and a rollback', () => {
  let ring: RolloutRing;

  beforeAll(async () => {
    ring = await rolloutRing({
      token: TOKEN,
      world,
      devices: ids,
      image: NEW,
      policy: ['waves: [{devices: 1}, {percent: 10}, {percent: 100}]', 'soakMinutes: 60', 'maxFailurePercent: 10', 'minDevicesJudged: 3', 'deviceTimeoutMinutes: 120', 'onFailure: rollback', 'waitMinutes: 0.1'],
    });
  });
  afterAll(async () => {
    await ring?.close();
  });

  it('starts the waves in order after each soak, stops on the breach, rolls back and then sends nothing', async () => {
    const { ws, emu, configFile, up, advance, image, deploymentsOf, devicesOf } = ring;
    await step('up 1: wave 1 (one device) installs; the up returns while the soak runs', async () => {
      const result = await up('roll pi4-2026.11 to canary');
      expect(result.code).toBe(0);
      // The dynamic provider's console reaches the up's output.
      expect(result.stdout).toContain(`${NEW} in canary: wave 1 of 3`);
      const [first] = await deploymentsOf(NEW);
      expect(await devicesOf(first.id)).toEqual(wave1);
      expect(await image(wave1[0])).toBe(NEW);
      for (const id of wave2) expect(await image(id)).toBe(OLD);
      const outputs = await ring.outputs();
      expect(outputs.rollouts).toEqual({ [NEW]: 'soaking' });
    });
    await step('the preview of the rollout under way shows an update of its MenderDeployment', async () => {
      const preview = await ws.ok(['preview', '--stack', 'canary', '--config-file', configFile]);
      expect(preview.stdout).toMatch(/~ +pulumi-nodejs:dynamic\/mender:MenderDeployment pi4-2026\.11 update/);
    });
    await step('fleet plan (and its Markdown for the pull request) says where the rollout stands and what the next up starts, when', async () => {
      const plan = await fleetCli(['plan', '--stack', 'canary', '--config-file', configFile], ws.env);
      expect(plan.code).toBe(0);
      expect(plan.stdout).toContain(`Rollout of ${NEW}: wave 1 of 3 (soaking): 1 success`);
      expect(plan.stdout).toContain('gate: 0 failed of 1 judged (0 %, limit 10 %, too few judged to count yet)');
      expect(plan.stdout).toMatch(/next: wave 2 of 3: 4 devices, once the soak ends at (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC/);
      const markdown = await fleetCli(['plan', '--stack', 'canary', '--config-file', configFile, '--markdown'], ws.env);
      expect(markdown.stdout).toContain(`#### Rollouts\n\n- Rollout of ${NEW}: wave 1 of 3 (soaking): 1 success\n`);
    });
    await step('up 2, within the soak: nothing new starts', async () => {
      await emu.clearRequests();
      expect((await up('again, within the soak')).code).toBe(0);
      expect(created(await emu.requests())).toEqual([]);
    });
    await step('after the soak, up 3 starts wave 2 (4 more devices)', async () => {
      await advance(61 * MINUTE);
      expect((await up('after the first soak')).code).toBe(0);
      const deployments = await deploymentsOf(NEW);
      expect(deployments).toHaveLength(2);
      const second = deployments.find((d) => !d.name.includes(':1:'))!;
      expect(await devicesOf(second.id)).toEqual([...wave2].sort());
      for (const id of wave2) expect(await image(id)).toBe(NEW);
    });
    await step('after the second soak, up 4 starts wave 3; it waits for the silent device and returns in progress', async () => {
      await advance(61 * MINUTE);
      const result = await up('after the second soak');
      expect(result.code).toBe(0);
      for (const id of wave3.filter((d) => d !== silent && !failing.includes(d))) expect(await image(id)).toBe(NEW);
      for (const id of [...failing, silent]) expect(await image(id)).toBe(OLD);
      const outputs = await ring.outputs();
      expect(outputs.rollouts).toEqual({ [NEW]: 'waiting' });
      // What the apply workflow writes to its job summary.
      const status = await fleetCli(['status', '--stack', 'canary', '--rollouts'], ws.env);
      expect(status.code).toBe(0);
      expect(status.stdout).toContain(`Rollout of ${NEW}: wave 3 of 3 (running): 4 failure, 1 pending, 36 success`);
      expect(status.stdout).toContain('gate: 4 failed of 40 judged (10 %, limit 10 %)');
      // The deadline is given with its date when it falls on another (UTC) day than the clock's now
      // (program/rollout-report.ts, clockTime): in the evening, the soaks above carry it past midnight.
      expect(status.stdout).toMatch(/next: waiting for 1 device of wave 3; a device not finished by (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC counts as failed/);
    });
    await step('the silent device times out: the gate is breached, and every device that installed the image gets its previous one back', async () => {
      await advance(121 * MINUTE);
      const result = await up('after the device timeout');
      expect(result.code).not.toBe(0);
      const said = result.stdout + result.stderr;
      expect(said).toContain('5 failed of 41 judged (12.2 %, limit 10 %)');
      expect(said).toContain(`timed out (not finished within 120 minutes): ${silent}`);
      expect(said).toContain(`the devices that had installed it were sent back: 36 to ${OLD}`);
      for (const id of ids) expect(await image(id)).toBe(OLD);
      const exported = JSON.parse((await ws.ok(['stack', 'export', '--stack', 'canary'])).stdout) as { deployment: { resources: { type: string; outputs?: { progress?: { phase: string } }; initErrors?: string[] }[] } };
      const resource = exported.deployment.resources.find((r) => r.type.endsWith(':MenderDeployment'));
      expect(resource?.outputs?.progress?.phase).toBe('rolled-back');
      // The silent device's deployment was aborted, so it never installs the image late.
      const [third] = (await deploymentsOf(NEW)).filter((d) => d.name.includes(':36:'));
      const stats = await emu.api<Record<string, number>>('GET', `${DEPLOYMENTS}/${third.id}/statistics`);
      expect((await emu.api<{ status: string }>('GET', `${DEPLOYMENTS}/${third.id}`)).status).toBe('finished');
      expect(stats).toMatchObject({ pending: 0, downloading: 0, installing: 0, rebooting: 0 });
    });
    await step('a further up starts nothing and sends no mutating request', async () => {
      await emu.clearRequests();
      const result = await up('after the rollback');
      expect(result.code).toBe(0);
      expect(mutating(await emu.requests())).toEqual([]);
      for (const id of ids) expect(await image(id)).toBe(OLD);
      const plan = await fleetCli(['plan', '--stack', 'canary', '--config-file', configFile], ws.env);
      expect(plan.stdout).toContain(`Rollout of ${NEW}: rolled back (36 to ${OLD}) at wave 3 of 3`);
      expect(plan.stdout).toContain(`no up starts ${NEW} in this ring again until Git names another image`);
    });
    await step('fleet audit names each device\'s changes: its wave, the stop, its rollback', async () => {
      const audit = await fleetCli(['audit', '--stack', 'canary'], ws.env);
      expect(audit.code).toBe(0);
      const entries = audit.stdout.split(/\n(?=#\d+ )/);
      const entry = (message: string) => entries.find((e) => e.includes(`"${message}"`)) ?? '';
      expect(entry('roll pi4-2026.11 to canary')).toContain(`device ${wave1[0]}: sent ${NEW} in wave 1 of 3`);
      for (const id of wave2) expect(entry('after the first soak')).toContain(`device ${id}: sent ${NEW} in wave 2 of 3`);
      for (const id of wave3) expect(entry('after the second soak')).toContain(`device ${id}: sent ${NEW} in wave 3 of 3`);
      const breach = entry('after the device timeout');
      expect(breach).toContain('FAILED');
      expect(breach).toContain(`rollout of ${NEW} stopped and rolled back at wave 3 of 3: 5 failed of 41 judged (12.2 %, limit 10 %)`);
      expect(breach).toContain(`timed out: ${silent}`);
      const back = ids.filter((id) => id !== silent && !failing.includes(id));
      for (const id of back) expect(breach).toContain(`device ${id}: rolled back from ${NEW} to ${OLD}`);
      for (const id of [...failing, silent]) expect(breach).not.toContain(`device ${id}: rolled back`);
    });
  }, 900_000);
});
