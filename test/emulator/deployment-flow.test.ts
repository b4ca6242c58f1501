// A whole OS deployment and a configuration deployment, over HTTP only, with real timers:
// create, watch statistics, devices converge, history shows it.
import { AxiosInstance } from 'axios';
import { RunningEmulator, startEmulator } from '../../emulator';
import { client, DEV, expectContract, testWorld, waitFor } from './support';

const M = '/api/management/v1';

let emu: RunningEmulator;
let api: AxiosInstance;

beforeAll(async () => {
  emu = await startEmulator({ world: testWorld() });
  api = client(emu.url);
});
afterAll(async () => {
  await emu.close();
});

async function inventory(id: string, name: string): Promise<unknown> {
  const res = await api.get(`${M}/inventory/devices/${id}`);
  return res.data.attributes.find((a: { scope: string; name: string }) => a.scope === 'inventory' && a.name === name)?.value;
}

it('rolls an OS update out to the fleet and every device ends as Mender decides', async () => {
  const created = await api.post(`${M}/deployments/deployments`, {
    name: 'pi4 november',
    artifact_name: 'pi4-2026.11',
    devices: Object.values(DEV),
  });
  expectContract(created);
  expect(created.status).toBe(201);
  const id = String(created.headers.location).split('/').pop();

  const seen = new Set<string>();
  const stats = await waitFor('all online devices to finish', async () => {
    const res = await api.get(`${M}/deployments/deployments/${id}/statistics`);
    expectContract(res);
    for (const [k, v] of Object.entries(res.data as Record<string, number>)) if (v > 0) seen.add(k);
    // The offline device never polls, so it stays pending.
    return res.data.pending === 1 && res.data.success + res.data.failure + res.data.noartifact + res.data['already-installed'] === 5
      ? (res.data as Record<string, number>)
      : undefined;
  });
  expect(stats).toMatchObject({ success: 2, failure: 1, noartifact: 1, 'already-installed': 1, pending: 1 });
  expect(seen.has('pending')).toBe(true);

  const dep = await api.get(`${M}/deployments/deployments/${id}`);
  expectContract(dep);
  expect(dep.data.status).toBe('inprogress');

  expect(await inventory(DEV.canary, 'artifact_name')).toBe('pi4-2026.11');
  expect(await inventory(DEV.canary, 'rootfs-image.version')).toBe('pi4-2026.11');
  expect(await inventory(DEV.failing, 'artifact_name')).toBe('pi4-2026.10');
  expect(await inventory(DEV.offline, 'artifact_name')).toBe('pi4-2026.10');

  const devices = await api.get(`${M}/deployments/deployments/${id}/devices/list`, { params: { per_page: 50 } });
  expectContract(devices);
  const byId = Object.fromEntries(devices.data.map((d: { id: string; status: string }) => [d.id, d.status]));
  // The offline device never polled, so it has no record yet (deployments app/app.go,
  // getNewDeploymentForDevice makes it at the first poll); the statistics count it as pending.
  expect(byId).toEqual({
    [DEV.canary]: 'success',
    [DEV.failing]: 'failure',
    [DEV.upToDate]: 'already-installed',
    [DEV.otherType]: 'noartifact',
    [DEV.rejecting]: 'success',
  });

  const history = await api.get(`${M}/deployments/deployments/devices/${DEV.canary}`);
  expectContract(history);
  expect(history.data[0]).toMatchObject({ deployment: { id, artifact_name: 'pi4-2026.11' }, device: { status: 'success' } });

  // The offline device comes back: the deployment finishes.
  await client(emu.url, null).post(`/__emulator/devices/${DEV.offline}/behavior`, {});
  await waitFor('deployment to finish', async () => {
    const res = await api.get(`${M}/deployments/deployments/${id}`);
    return res.data.status === 'finished' ? true : undefined;
  });
  const finished = await api.get(`${M}/deployments/deployments`, { params: { status: 'finished' } });
  expectContract(finished);
  expect(finished.data.map((d: { id: string }) => d.id)).toContain(id);
});

it('deploys a configuration and the device reports it (or fails when it rejects)', async () => {
  for (const [device, outcome] of [
    [DEV.canary, 'success'],
    [DEV.rejecting, 'failure'],
  ] as const) {
    const set = await api.put(`${M}/deviceconfig/configurations/device/${device}`, { timezone: 'Europe/Oslo' });
    expect(set.status).toBe(204);
    const deploy = await api.post(`${M}/deviceconfig/configurations/device/${device}/deploy`, {});
    expectContract(deploy);
    const depId = deploy.data.deployment_id as string;
    const stats = await waitFor(`configuration deployment on ${device}`, async () => {
      const res = await api.get(`${M}/deployments/deployments/${depId}/statistics`);
      return res.data[outcome] === 1 ? res.data : undefined;
    });
    expect(stats.pending).toBe(0);
    const config = await api.get(`${M}/deviceconfig/configurations/device/${device}`);
    expectContract(config);
    expect(config.data.configured).toEqual({ timezone: 'Europe/Oslo' });
    expect(config.data.reported).toEqual(outcome === 'success' ? { timezone: 'Europe/Oslo' } : {});
    const history = await api.get(`${M}/deployments/deployments/devices/${device}`);
    expect(history.data[0]).toMatchObject({ deployment: { id: depId, type: 'configuration' }, device: { status: outcome } });
    const listed = await api.get('/api/management/v2/deployments/deployments', { params: { type: 'configuration' } });
    expectContract(listed);
    expect(listed.data.map((d: { id: string }) => d.id)).toContain(depId);
  }
});
