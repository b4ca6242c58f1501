// Per-device behaviours of the world file under simulated time, and the Date header: a
// multi-hour rollout plays in real milliseconds by advancing the emulator's clock
// (POST /__emulator/time), with every timestamp and Date header in that simulated time.
import { AxiosInstance } from 'axios';
import { RunningEmulator, startEmulator, Timing, World } from '../../emulator';
import { sha256Hex } from '../../emulator/ids';
import { client, TOKEN, waitFor } from './support';

const M = '/api/management/v1';
const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const D = {
  fast: 'b0000000-0000-4000-8000-000000000001',
  rare: 'b0000000-0000-4000-8000-000000000002',
  rollback: 'b0000000-0000-4000-8000-000000000003',
  offline: 'b0000000-0000-4000-8000-000000000004',
} as const;

function world(): World {
  return {
    artifacts: [
      { name: 'pi4-2026.10', device_types: ['pi4-v3-arm64'] },
      { name: 'pi4-2026.11', device_types: ['pi4-v3-arm64'], provides: { 'rootfs-image.version': '2026.11.0' } },
      { name: 'pi4-2026.12', device_types: ['pi4-v3-arm64'] },
    ],
    devices: [
      { id: D.fast, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10' },
      { id: D.rare, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', behavior: { poll_interval_ms: HOUR } },
      { id: D.rollback, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', behavior: { rollback_after_reboot: ['pi4-2026.11'] } },
      { id: D.offline, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', behavior: { offline: true } },
    ],
    tokens: [TOKEN],
    users: [],
  };
}

interface DeviceDeployment {
  id: string;
  status: string;
  started?: string;
  finished?: string;
}

let emu: RunningEmulator;
let api: AxiosInstance;
const admin = () => client(emu.url, null);

async function start(timing: Partial<Timing>): Promise<void> {
  emu = await startEmulator({ world: world(), port: 0, timing });
  api = client(emu.url);
}
// Each test starts its own emulator; this stops it.
afterEach(async () => {
  await emu?.close();
});

async function now(): Promise<number> {
  const res = await admin().get('/__emulator/time');
  expect(res.status).toBe(200);
  return res.data.now_ms as number;
}

/** Advances the simulated clock to `ms` (by the difference from now). */
async function advanceTo(ms: number): Promise<void> {
  const res = await admin().post('/__emulator/time', { advance_ms: Math.max(0, ms - (await now())) });
  expect(res.status).toBe(200);
}

/**
 * When a woken device first polls, after its wake: the fixed offset within one poll interval
 * that Simulation.wake gives it (48 bits of the id's hash, modulo the interval).
 */
function firstPollOffset(id: string, intervalMs: number): number {
  return parseInt(sha256Hex(id).slice(0, 12), 16) % intervalMs;
}

async function create(name: string, artifact: string, devices: string[]): Promise<string> {
  const res = await api.post(`${M}/deployments/deployments`, { name, artifact_name: artifact, devices });
  expect(res.status).toBe(201);
  return String(res.headers.location).split('/').pop()!;
}

async function record(deployment: string, device: string): Promise<DeviceDeployment | undefined> {
  const res = await api.get(`${M}/deployments/deployments/${deployment}/devices`);
  expect(res.status).toBe(200);
  return (res.data as DeviceDeployment[]).find((d) => d.id === device);
}

async function inventory(id: string, name: string): Promise<unknown> {
  const res = await api.get(`${M}/inventory/devices/${id}`);
  return res.data.attributes.find((a: { scope: string; name: string }) => a.scope === 'inventory' && a.name === name)?.value;
}

describe('poll_interval_ms', () => {
  it('makes a device poll at its own interval, in simulated time', async () => {
    await start({ pollIntervalMs: 50, stepMs: 20 });
    const first = await create('first', 'pi4-2026.11', [D.fast, D.rare]);
    const second = await create('second', 'pi4-2026.12', [D.rare]);

    // The fleet's 50 ms poll: the fast device is done in real time; the rare one (first poll
    // within one hour of the deployment, its jitter) has not asked yet.
    await waitFor('the fast device', async () => ((await record(first, D.fast))?.status === 'success' ? true : undefined));
    expect(await record(first, D.rare)).toBeUndefined();

    // Minute by minute of simulated time: its first poll comes within its interval.
    const created = Date.parse((await api.get(`${M}/deployments/deployments/${first}`)).data.created);
    let polled: DeviceDeployment | undefined;
    for (let minute = 1; minute <= 61 && !polled; minute++) {
      await advanceTo(created + minute * MINUTE);
      polled = await record(first, D.rare);
    }
    expect(polled).toBeDefined();
    // started is the poll's simulated time, whichever advance or tick ran it.
    const firstPoll = Date.parse(polled!.started!);
    await waitFor('the rare device', async () => ((await record(first, D.rare))?.status === 'success' ? true : undefined));
    expect(firstPoll - created).toBeLessThan(HOUR);
    expect(await inventory(D.rare, 'artifact_name')).toBe('pi4-2026.11');

    // Its next poll (for the second deployment) is an hour after the first update ended (poll +
    // three 20 ms steps), and not a minute before.
    await advanceTo(firstPoll + HOUR - MINUTE);
    expect(await record(second, D.rare)).toBeUndefined();
    await advanceTo(firstPoll + HOUR + MINUTE);
    const next = await record(second, D.rare);
    expect(next).toMatchObject({ status: 'success' });
    expect(Date.parse(next!.started!) - firstPoll).toBe(HOUR + 3 * 20);
    expect(await inventory(D.rare, 'artifact_name')).toBe('pi4-2026.12');
  });

  it('is checked in the world file and settable through the admin API', async () => {
    await start({ pollIntervalMs: 50, stepMs: 20 });
    let res = await admin().post(`/__emulator/devices/${D.fast}/behavior`, { poll_interval_ms: 0 });
    expect(res.status).toBe(400);
    // The change wakes the device (admin.ts), so its first poll counts from here.
    const woken = await now();
    res = await admin().post(`/__emulator/devices/${D.fast}/behavior`, { poll_interval_ms: DAY });
    expect(res.status).toBe(200);
    expect(res.data.behavior).toEqual({ poll_interval_ms: DAY });
    const id = await create('daily', 'pi4-2026.11', [D.fast]);
    // Its first poll comes at its offset within the day (12.8 h for this id), where the fleet's
    // 50 ms would have had it poll at once: a minute before it, no poll yet; a minute after, done.
    const created = Date.parse((await api.get(`${M}/deployments/deployments/${id}`)).data.created);
    const offset = firstPollOffset(D.fast, DAY);
    expect(offset).toBeGreaterThan(HOUR);
    await advanceTo(woken + offset - MINUTE);
    expect(await record(id, D.fast)).toBeUndefined();
    await advanceTo(created + offset + MINUTE);
    expect(await record(id, D.fast)).toMatchObject({ status: 'success' });
  });
});

// mender client 3.4 (mendersoftware/mender, app/state.go at tag 3.4.0), an image that does not
// boot: updateRebootState.Handle reports `rebooting`; after the reboot updateVerifyRebootState's
// VerifyReboot fails, and updateRollbackState (ArtifactRollback), updateRollbackRebootState
// (ArtifactRollbackReboot) and updateErrorState (ArtifactFailure) report nothing, until
// updateStatusReportState sends `failure` and the deployment log. No commit (CommitArtifactData):
// the inventory keeps the old artifact_name and provides.
describe('rollback_after_reboot', () => {
  it('downloads, installs, reboots, rolls back: failure, and the old image stays', async () => {
    const STEP = HOUR;
    await start({ pollIntervalMs: HOUR, stepMs: STEP });
    const id = await create('rollback', 'pi4-2026.11', [D.rollback]);
    const stats = async () => (await api.get(`${M}/deployments/deployments/${id}/statistics`)).data as Record<string, number>;
    expect(await stats()).toMatchObject({ pending: 1 });

    // The first poll comes within one poll interval.
    await advanceTo((await now()) + HOUR);
    const polled = await record(id, D.rollback);
    expect(polled).toMatchObject({ status: 'downloading' });
    const t0 = Date.parse(polled!.started!);

    // Half a step into each phase: what Mender sees.
    const seen: [string, string | undefined, Record<string, number>][] = [];
    for (let k = 0; k <= 4; k++) {
      await advanceTo(t0 + k * STEP + STEP / 2);
      const s = await stats();
      seen.push([`t0 + ${k}.5 steps`, (await record(id, D.rollback))?.status, s]);
    }
    const only = (status: string) => expect.objectContaining({ [status]: 1, pending: 0 });
    expect(seen).toEqual([
      ['t0 + 0.5 steps', 'downloading', only('downloading')],
      ['t0 + 1.5 steps', 'installing', only('installing')],
      ['t0 + 2.5 steps', 'rebooting', only('rebooting')],
      // ArtifactRollback and ArtifactRollbackReboot: a second reboot, nothing reported.
      ['t0 + 3.5 steps', 'rebooting', only('rebooting')],
      ['t0 + 4.5 steps', 'failure', only('failure')],
    ]);
    expect(await stats()).toMatchObject({ success: 0, failure: 1, downloading: 0, installing: 0, rebooting: 0 });

    const done = await record(id, D.rollback);
    expect(Date.parse(done!.finished!) - t0).toBe(4 * STEP);
    const dep = (await api.get(`${M}/deployments/deployments/${id}`)).data;
    expect(dep).toMatchObject({ status: 'finished', finished: done!.finished });

    expect(await inventory(D.rollback, 'artifact_name')).toBe('pi4-2026.10');
    expect(await inventory(D.rollback, 'rootfs-image.version')).toBe('pi4-2026.10');
    const log = await api.get(`${M}/deployments/deployments/${id}/devices/${D.rollback}/log`);
    expect(log.status).toBe(200);
    expect(log.data).toMatch(/did not boot into pi4-2026\.11/);
    expect(log.data).toMatch(/rolled back to pi4-2026\.10/);
  });

  it('rolls back only from the artifacts it names', async () => {
    await start({ pollIntervalMs: 50, stepMs: 20 });
    const id = await create('other image', 'pi4-2026.12', [D.rollback]);
    await waitFor('the update', async () => ((await record(id, D.rollback))?.status === 'success' ? true : undefined));
    expect(await inventory(D.rollback, 'artifact_name')).toBe('pi4-2026.12');
  });
});

describe('offline', () => {
  it('never polls, not even after weeks of simulated time', async () => {
    await start({ pollIntervalMs: 50, stepMs: 20 });
    const id = await create('offline', 'pi4-2026.11', [D.offline, D.fast]);
    await waitFor('the online device', async () => ((await record(id, D.fast))?.status === 'success' ? true : undefined));
    for (let i = 0; i < 3; i++) {
      const res = await admin().post('/__emulator/time', { advance_ms: 10 * DAY });
      expect(res.status).toBe(200);
    }
    expect(await record(id, D.offline)).toBeUndefined();
    expect((await api.get(`${M}/deployments/deployments/${id}/statistics`)).data).toMatchObject({ pending: 1, success: 1 });
    expect((await api.get(`${M}/deployments/deployments/${id}`)).data.status).toBe('inprogress');
    expect((await api.get(`${M}/deployments/deployments/devices/${D.offline}`)).data).toEqual([]);
    expect(await inventory(D.offline, 'artifact_name')).toBe('pi4-2026.10');
    expect((await admin().get('/__emulator/state')).data.active_devices).toBe(0);
  });
});

describe('Date header', () => {
  const dateOf = (headers: Record<string, unknown>): number => {
    const value = String(headers.date);
    // RFC 7231 IMF-fixdate.
    expect(value).toMatch(/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    return Date.parse(value);
  };
  const second = (ms: number) => Math.floor(ms / 1000) * 1000;

  it('is the simulated clock on every response, also after an advance', async () => {
    await start({ pollIntervalMs: 50, stepMs: 20 });
    const before = await now();
    const responses = [
      await api.get(`${M}/inventory/devices`),
      await client(emu.url, 'wrong').get(`${M}/inventory/devices`),
      await api.get(`${M}/no/such/route`),
      await admin().get('/__emulator/state'),
    ];
    const after = await now();
    expect(responses.map((r) => r.status)).toEqual([200, 401, 404, 200]);
    for (const res of responses) {
      expect(dateOf(res.headers)).toBeGreaterThanOrEqual(second(before));
      expect(dateOf(res.headers)).toBeLessThanOrEqual(after);
    }

    const advanced = await admin().post('/__emulator/time', { advance_ms: 5 * DAY });
    expect(advanced.data).toEqual({ now: expect.any(String), now_ms: expect.any(Number), speed: 1 });
    expect(advanced.data.now_ms).toBeGreaterThanOrEqual(after + 5 * DAY);
    // The answer to the advance already carries the advanced time.
    expect(dateOf(advanced.headers)).toBeGreaterThanOrEqual(second(advanced.data.now_ms));
    expect(dateOf(advanced.headers)).toBeLessThanOrEqual(await now());
    const res = await api.get(`${M}/deployments/deployments`);
    const read = await now();
    expect(dateOf(res.headers)).toBeGreaterThanOrEqual(second(advanced.data.now_ms));
    expect(dateOf(res.headers)).toBeLessThanOrEqual(read);
    expect(dateOf(res.headers) - Date.now()).toBeGreaterThan(5 * DAY - MINUTE);

    // One Date header, not Node's real-time one besides.
    const raw = await fetch(`${emu.url}${M}/inventory/devices`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(raw.headers.get('date')).not.toMatch(/,.*,/);
    // The created timestamp of a deployment is the same clock.
    const id = await create('dated', 'pi4-2026.11', [D.offline]);
    const created = Date.parse((await api.get(`${M}/deployments/deployments/${id}`)).data.created);
    expect(created).toBeGreaterThanOrEqual(read);
    expect(created).toBeLessThanOrEqual(await now());
  });

  it('runs at the clock speed', async () => {
    await start({ pollIntervalMs: 50, stepMs: 20, speed: 1000 });
    const t1 = dateOf((await api.get(`${M}/inventory/devices`)).headers);
    await new Promise((r) => setTimeout(r, 300));
    const t2 = dateOf((await api.get(`${M}/inventory/devices`)).headers);
    // 300 ms real are 300 s simulated (the header has whole seconds).
    expect(t2 - t1).toBeGreaterThanOrEqual(299 * 1000);
    expect((await admin().get('/__emulator/time')).data.speed).toBe(1000);
  });
});
