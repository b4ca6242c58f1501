// Per-device behaviours of the world file under simulated time, and the Date header: a
// multi-hour rollout plays in real milliseconds by advancing the emulator's clock
// (POST /__emulator/time), with every timestamp and Date header in that simulated time.
import { AxiosInstance } from 'axios';
import { RunningEmulator, startEmulator, Timing, World } from '../../emulator';
import { client, TOKEN } from './support';

const M = '/api/management/v1';
const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const D = {
  fast: 'b0000000-0000-4000-8000-000000000001',
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
      { id: D.offline, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', behavior: { offline: true } },
    ],
    tokens: [TOKEN],
    users: [],
  };
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

async function create(name: string, artifact: string, devices: string[]): Promise<string> {
  const res = await api.post(`${M}/deployments/deployments`, { name, artifact_name: artifact, devices });
  expect(res.status).toBe(201);
  return String(res.headers.location).split('/').pop()!;
}

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
