// The admin API (request log, faults, behaviour, inventory, time), bad input leaving state
// unchanged, and persistence across restarts.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AxiosInstance } from 'axios';
import { RunningEmulator, startEmulator } from '../../emulator';
import { client, DEV, expectContract, testWorld } from './support';

const M = '/api/management/v1';
const HOUR = 3600 * 1000;

describe('admin API', () => {
  let emu: RunningEmulator;
  let api: AxiosInstance;
  let admin: AxiosInstance;

  beforeAll(async () => {
    emu = await startEmulator({ world: testWorld(), timing: { pollIntervalMs: HOUR, stepMs: HOUR } });
    api = client(emu.url);
    admin = client(emu.url, null);
  });
  afterAll(async () => {
    await emu.close();
  });

  it('logs Mender API requests, not admin ones, and clears the log', async () => {
    await admin.delete('/__emulator/requests');
    await api.get(`${M}/inventory/devices`, { params: { per_page: 1 } });
    await api.get(`${M}/inventory/devices/nope`);
    await admin.get('/__emulator/state');
    const log = await admin.get('/__emulator/requests');
    expect(log.data).toEqual([
      { method: 'GET', path: `${M}/inventory/devices`, query: 'per_page=1', status: 200, time: expect.any(String) },
      { method: 'GET', path: `${M}/inventory/devices/nope`, query: '', status: 404, time: expect.any(String) },
    ]);
  });

  it('injects 429 with Retry-After, 5xx, delays and connection resets for a count', async () => {
    let res = await admin.post('/__emulator/faults', { method: 'GET', path: '^/api/management/v1/inventory/devices$', count: 2, status: 429, retry_after: 3 });
    expect(res.status).toBe(201);
    for (let i = 0; i < 2; i++) {
      res = await client(emu.url, null).get(`${M}/inventory/devices`);
      expect(res.status).toBe(429);
      expect(res.headers['retry-after']).toBe('3');
      expect(res.data).toEqual({ error: expect.any(String), request_id: expect.any(String) });
    }
    res = await api.get(`${M}/inventory/devices`);
    expect(res.status).toBe(200);

    await admin.post('/__emulator/faults', { path: 'artifacts', count: 1, status: 503 });
    res = await api.get(`${M}/deployments/artifacts`);
    expect(res.status).toBe(503);
    expect((await api.get(`${M}/deployments/artifacts`)).status).toBe(200);

    await admin.post('/__emulator/faults', { path: 'releases', count: 1, delay_ms: 300 });
    const started = Date.now();
    res = await api.get(`${M}/deployments/deployments/releases`);
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);

    await admin.post('/__emulator/faults', { path: 'groups', count: 1, reset: true });
    await expect(api.get(`${M}/inventory/groups`)).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect((await api.get(`${M}/inventory/groups`)).status).toBe(200);

    await admin.post('/__emulator/faults', { path: 'x', count: 5, status: 500 });
    expect((await admin.get('/__emulator/faults')).data).toHaveLength(1);
    expect((await admin.delete('/__emulator/faults')).status).toBe(204);
    expect((await admin.get('/__emulator/faults')).data).toEqual([]);
    res = await admin.post('/__emulator/faults', { path: '(', count: 1, status: 500 });
    expect(res.status).toBe(400);
  });

  it('changes behaviour and inventory, and makes time pass', async () => {
    let res = await admin.post(`/__emulator/devices/${DEV.canary}/behavior`, { fail_install: ['pi4-2026.11'] });
    expect(res.status).toBe(200);
    res = await admin.post(`/__emulator/devices/${DEV.upToDate}/inventory`, { artifact_name: 'pi4-2026.10', 'rootfs-image.version': 'pi4-2026.10' });
    expect(res.status).toBe(200);
    res = await api.post(`${M}/deployments/deployments`, { name: 'n', artifact_name: 'pi4-2026.11', devices: [DEV.canary, DEV.upToDate] });
    const id = String(res.headers.location).split('/').pop();
    expect((await api.get(`${M}/deployments/deployments/${id}/statistics`)).data.pending).toBe(2);
    res = await admin.post('/__emulator/time', { advance_ms: 20 * HOUR });
    expect(res.status).toBe(200);
    expect((await api.get(`${M}/deployments/deployments/${id}/statistics`)).data).toMatchObject({ failure: 1, success: 1, pending: 0 });
    res = await admin.post('/__emulator/devices/no-such-device/behavior', {});
    expect(res.status).toBe(404);
    res = await admin.post(`/__emulator/devices/${DEV.canary}/behavior`, { explode: true });
    expect(res.status).toBe(400);
    const state = await admin.get('/__emulator/state');
    expect(state.data.devices).toHaveLength(6);
    expect(state.data.deployments).toHaveLength(1);
  });

  it('leaves state unchanged after bad input', async () => {
    const before = (await admin.get('/__emulator/state')).data;
    const bad: [string, string, unknown, number][] = [
      ['post', `${M}/deployments/deployments`, '{"name": "x", "artifact_name": ', 400],
      ['post', `${M}/deployments/deployments`, { name: 1, artifact_name: 'pi4-2026.11', devices: [DEV.canary] }, 400],
      ['post', `${M}/deployments/deployments`, { name: 'x', artifact_name: 'pi4-2026.11', devices: 'all' }, 400],
      ['post', `${M}/deployments/deployments`, { name: 'x', artifact_name: 'nope', devices: [DEV.canary] }, 422],
      ['put', `${M}/deviceconfig/configurations/device/${DEV.canary}`, '{"a": ', 400],
      ['put', `${M}/deviceconfig/configurations/device/${DEV.canary}`, { a: ['b'] }, 400],
      ['put', `${M}/inventory/devices/00000000-0000-4000-8000-000000000000/group`, { group: 'g' }, 404],
      ['put', `${M}/inventory/devices/${DEV.canary}/group`, { group: 42 }, 400],
      ['post', `${M}/deviceconfig/configurations/device/00000000-0000-4000-8000-000000000000/deploy`, {}, 404],
      ['put', `${M}/deployments/deployments/00000000-0000-4000-8000-000000000000/status`, { status: 'aborted' }, 422],
      ['put', `${M}/deployments/deployments/not-a-uuid/status`, { status: 'aborted' }, 400],
    ];
    for (const [method, url, data, status] of bad) {
      const res = await api.request({ method, url, data, headers: { 'Content-Type': 'application/json' } });
      expect({ url, data, status: res.status }).toEqual({ url, data, status });
      expectContract(res);
    }
    for (const token of [null, 'wrong']) {
      const res = await client(emu.url, token).post(`${M}/deployments/deployments`, { name: 'x', artifact_name: 'pi4-2026.11', devices: [DEV.canary] });
      expectContract(res);
      expect(res.status).toBe(401);
    }
    const after = (await admin.get('/__emulator/state')).data;
    expect({ ...after, now: undefined }).toEqual({ ...before, now: undefined });
  });
});

describe('state file', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'emulator-state-'));
  const statePath = path.join(dir, 'state.json');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps acknowledged changes across a restart', async () => {
    let emu = await startEmulator({ world: testWorld(), statePath, timing: { pollIntervalMs: HOUR, stepMs: HOUR } });
    let api = client(emu.url);
    const res = await api.post(`${M}/deployments/deployments`, { name: 'persisted', artifact_name: 'pi4-2026.11', devices: [DEV.canary] });
    expect(res.status).toBe(201);
    const id = String(res.headers.location).split('/').pop();
    await api.put(`${M}/inventory/devices/${DEV.canary}/group`, { group: 'kept' });
    await api.put(`${M}/deviceconfig/configurations/device/${DEV.canary}`, { k: 'v' });
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
    await emu.close();

    emu = await startEmulator({ world: { ...testWorld(), devices: [] }, statePath, timing: { pollIntervalMs: 20, stepMs: 10 } });
    api = client(emu.url);
    try {
      expect((await api.get(`${M}/deployments/deployments/${id}`)).data).toMatchObject({ name: 'persisted' });
      expect((await api.get(`${M}/inventory/devices/${DEV.canary}/group`)).data).toEqual({ group: 'kept' });
      expect((await api.get(`${M}/deviceconfig/configurations/device/${DEV.canary}`)).data.configured).toEqual({ k: 'v' });
      // The restarted simulation picks the pending deployment up again.
      for (let i = 0; i < 200; i++) {
        const stats = (await api.get(`${M}/deployments/deployments/${id}/statistics`)).data;
        if (stats.success === 1) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      expect((await api.get(`${M}/deployments/deployments/${id}/statistics`)).data.success).toBe(1);
    } finally {
      await emu.close();
    }
  });
});
