// A rollout paused from Git in the middle and unpaused, then a newer image's rollout that Git
// reverts in the middle: through the real CLI against the emulator, whose clock the test moves on.
import { mutating } from '../helpers/emulator';
import { fleetCli } from '../helpers/pulumi';
import { DEPLOYMENTS, PI4, RolloutRing, rolloutRing } from '../helpers/rollout-ring';
import { step } from '../helpers/step';
import { rolloutOrder } from '../../provider/rollout/waves';

const TOKEN = 'rollout-pause-revert-token-8c4d';
const OLD = 'pi4-2026.10';
const NEW = 'pi4-2026.11';
const NEWER = 'pi4-2027.01';
const MINUTE = 60_000;
const ids = Array.from({ length: 8 }, (_, i) => `d0000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
const policy = (paused: boolean) => ['waves: [{devices: 2}, {percent: 100}]', 'soakMinutes: 30', 'deviceTimeoutMinutes: 600', 'waitMinutes: 0.1', `paused: ${paused}`];

describe('a rollout paused from Git, and a rollout reverted in Git', () => {
  let ring: RolloutRing;

  beforeAll(async () => {
    ring = await rolloutRing({
      token: TOKEN,
      world: { artifacts: [OLD, NEW, NEWER].map((name) => ({ name, device_types: [PI4] })), devices: ids.map((id) => ({ id, device_type: PI4, artifact_name: OLD })), tokens: [TOKEN], users: [] },
      devices: ids,
      image: NEW,
      policy: policy(false),
    });
  });
  afterAll(async () => {
    await ring?.close();
  });

  it('holds the next wave while paused and goes on once unpaused; a revert sends the earlier image only where the newer one went', async () => {
    const { ws, emu, configFile, up, advance, image, deploymentsOf, devicesOf } = ring;
    const posts = async () => mutating(await emu.requests()).filter((r) => r.method === 'POST' && r.path === DEPLOYMENTS);
    const first = rolloutOrder(NEW, ids).slice(0, 2);

    await step('wave 1 (two devices) installs, then the soak', async () => {
      expect((await up('roll pi4-2026.11')).code).toBe(0);
      for (const id of ids) expect(await image(id)).toBe(first.includes(id) ? NEW : OLD);
      expect((await ring.outputs()).rollouts).toEqual({ [NEW]: 'soaking' });
    });
    await step('paused: true committed; after the soak no new wave starts, and every view says paused', async () => {
      ring.setPolicy(policy(true));
      await advance(31 * MINUTE);
      await emu.clearRequests();
      expect((await up('pause the rollout')).code).toBe(0);
      expect(await posts()).toEqual([]);
      expect((await ring.outputs()).rollouts).toEqual({ [NEW]: 'paused' });
      const plan = await fleetCli(['plan', '--stack', 'canary', '--config-file', configFile], ws.env);
      expect(plan.stdout).toContain(`Rollout of ${NEW}: wave 1 of 2 (paused): 2 success`);
      expect(plan.stdout).toContain('next: paused (fleet:rollout.paused): no new wave starts; then wave 2 of 2: 6 devices');
      const status = await fleetCli(['status', '--stack', 'canary'], ws.env);
      expect(status.stdout).toContain(`Rollout of ${NEW}: wave 1 of 2 (paused): 2 success`);
      // --watch reads again until nothing changes: paused, the second read is the first, and it ends.
      const watched = await fleetCli(['status', '--stack', 'canary', '--rollouts', '--watch', '--every', '0.2'], ws.env);
      expect(watched.code).toBe(0);
      expect(watched.stdout.split(`Rollout of ${NEW}: wave 1 of 2 (paused)`)).toHaveLength(2);
    });
    await step('unpaused, the next up starts wave 2 and the rollout ends', async () => {
      ring.setPolicy(policy(false));
      expect((await up('resume the rollout')).code).toBe(0);
      for (const id of ids) expect(await image(id)).toBe(NEW);
      expect((await ring.outputs()).rollouts).toEqual({ [NEW]: 'done' });
    });

    const newerFirst = rolloutOrder(NEWER, ids).slice(0, 2);
    const [installs, silent] = newerFirst;
    await step('a newer image: wave 1 goes to two devices, one of which does not poll', async () => {
      await emu.admin('POST', `/devices/${silent}/behavior`, { offline: true });
      ring.setImage(NEWER);
      expect((await up('roll pi4-2027.01')).code).toBe(0);
      expect(await image(installs)).toBe(NEWER);
      expect(await image(silent)).toBe(NEW);
      expect((await ring.outputs()).rollouts).toEqual({ [NEWER]: 'waiting' });
    });
    await step('Git reverts to the earlier image: its unfinished deployment is aborted, and only the device that installed it goes back', async () => {
      ring.setImage(NEW);
      await emu.clearRequests();
      expect((await up('Revert "roll pi4-2027.01"')).code).toBe(0);
      const created = await posts();
      expect(created).toHaveLength(1);
      const [back] = (await deploymentsOf(NEW)).filter((d) => !d.name.startsWith('rollback@')).sort((a, b) => b.created.localeCompare(a.created));
      expect(await devicesOf(back.id)).toEqual([installs]);
      const [newer] = await deploymentsOf(NEWER);
      expect(newer.status).toBe('finished');
      for (const id of ids) expect(await image(id)).toBe(NEW);
      expect((await ring.outputs()).rollouts).toEqual({ [NEW]: 'done' });
      // The silent device polls again later: nothing of the newer image is left for it.
      await emu.admin('POST', `/devices/${silent}/behavior`, {});
      await advance(60 * MINUTE);
      expect(await image(silent)).toBe(NEW);
    });
  }, 600_000);
});
