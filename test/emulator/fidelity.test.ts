// The emulator behaves as mender-server's source does (backend/services at the commit in
// spec/SOURCE.md), where that differs from what a client would guess from the API alone. Each
// test names the source file and function it mirrors.
import { AxiosInstance } from 'axios';
import { RunningEmulator, startEmulator, World } from '../../emulator';
import { authRequest, deviceKey } from '../helpers/device-auth';
import { client, expectContract, TOKEN, waitFor } from './support';

/** The configuration workflow's delay: the one test that deploys a configuration moves the clock past it. */
const HOUR_MS = 3_600_000;

const M = '/api/management';
const HOUR = 3600 * 1000;

const D = {
  late: 'f1000000-0000-4000-8000-000000000001',
  byName: 'f1000000-0000-4000-8000-000000000002',
  byVersion: 'f1000000-0000-4000-8000-000000000003',
  unprovisioned: 'f1000000-0000-4000-8000-000000000004',
} as const;

function world(): World {
  return {
    artifacts: [
      { name: 'pi4-2026.10', device_types: ['pi4-v3-arm64'] },
      { name: 'pi4-2026.11', device_types: ['pi4-v3-arm64'] },
      // Mender's own examples give artifacts a rootfs-image.version other than their name.
      { name: 'release-2026.12', device_types: ['pi4-v3-arm64'], provides: { 'rootfs-image.version': '2026.12.0' } },
      { name: 'Kiosk-Image-A', device_types: ['pi4-v3-arm64'], description: 'Hall Kiosk' },
    ],
    devices: [
      { id: D.late, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', behavior: { first_poll_after_ms: 10 * HOUR } },
      { id: D.byName, device_type: 'pi4-v3-arm64', artifact_name: 'release-2026.12' },
      // Runs something else that happens to report the version string the artifact provides.
      { id: D.byVersion, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', attributes: { 'rootfs-image.version': '2026.12.0' } },
      { id: D.unprovisioned, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', deviceconfig_provisioned: false },
    ],
    tokens: [TOKEN],
    users: [],
  };
}

let emu: RunningEmulator;
let api: AxiosInstance;
const admin = () => client(emu.url, null);

// A fresh server per test: each test's deployments and devices are its own, in any order.
beforeEach(async () => {
  emu = await startEmulator({ world: world(), timing: { pollIntervalMs: 50, stepMs: 20, workflowDelayMs: HOUR_MS } });
  api = client(emu.url);
});
afterEach(async () => {
  await emu.close();
});

async function create(name: string, artifact: string, devices: string[]): Promise<string> {
  const res = await api.post(`${M}/v1/deployments/deployments`, { name, artifact_name: artifact, devices });
  expect(res.status).toBe(201);
  return String(res.headers.location).split('/').pop()!;
}

async function inventory(id: string, name: string): Promise<unknown> {
  const res = await api.get(`${M}/v1/inventory/devices/${id}`);
  return res.data.attributes.find((a: { scope: string; name: string }) => a.scope === 'inventory' && a.name === name)?.value;
}

const finished = (id: string) =>
  waitFor(`deployment ${id} to finish`, async () => ((await api.get(`${M}/v1/deployments/deployments/${id}`)).data.status === 'finished' ? true : undefined));

it('makes a device deployment only when the device polls, and a device takes its oldest deployment first', async () => {
  // deployments app/app.go: CreateDeployment stores the device list; getNewDeploymentForDevice
  // makes the record at the device's poll, for the oldest active deployment created after the
  // device's latest finished one (FindNewerActiveDeployment sorts by created, ascending).
  const older = await create('older', 'pi4-2026.11', [D.late]);
  const newer = await create('newer', 'release-2026.12', [D.late]);
  for (const id of [older, newer]) {
    const pending = await api.get(`${M}/v1/deployments/deployments/${id}/devices/list`, { params: { status: 'pending' } });
    expectContract(pending);
    expect(pending.headers['x-total-count']).toBe('0');
    const active = await api.get(`${M}/v1/deployments/deployments/${id}/devices/list`, { params: { status: 'active' } });
    expect(active.data).toEqual([]);
    const stats = await api.get(`${M}/v1/deployments/deployments/${id}/statistics`);
    expect(stats.data.pending).toBe(1);
  }
  // The device's first poll comes ten (simulated) hours after the start.
  await admin().post('/__emulator/time', { advance_ms: 10 * HOUR });
  await finished(older);
  await finished(newer);
  const history = await api.get(`${M}/v1/deployments/deployments/devices/${D.late}`);
  expect(history.data.map((h: { deployment: { name: string }; device: { status: string } }) => [h.deployment.name, h.device.status])).toEqual([
    ['newer', 'success'],
    ['older', 'success'],
  ]);
  expect(await inventory(D.late, 'artifact_name')).toBe('release-2026.12');
});

it('judges "already installed" by artifact_name, and a device reports what the artifact provides', async () => {
  // deployments app/app_os.go, isAlreadyInstalled: the artifact_name the device sends to
  // deployments/next against the artifact's name; rootfs-image.version plays no part.
  const id = await create('december', 'release-2026.12', [D.byName, D.byVersion]);
  await finished(id);
  const devices = await api.get(`${M}/v1/deployments/deployments/${id}/devices/list`);
  expect(Object.fromEntries(devices.data.map((d: { id: string; status: string }) => [d.id, d.status]))).toEqual({
    [D.byName]: 'already-installed',
    [D.byVersion]: 'success',
  });
  expect(await inventory(D.byVersion, 'artifact_name')).toBe('release-2026.12');
  expect(await inventory(D.byVersion, 'rootfs-image.version')).toBe('2026.12.0');
});

it('refuses deployment names over 256 characters with 400', async () => {
  // pkg/rules/validators.go, DeploymentName: Required and deploymentNameSize (size256).
  const ok = await api.post(`${M}/v1/deployments/deployments`, { name: 'n'.repeat(256), artifact_name: 'pi4-2026.11', devices: [D.byName] });
  expect(ok.status).toBe(201);
  const long = await api.post(`${M}/v1/deployments/deployments`, { name: 'n'.repeat(257), artifact_name: 'pi4-2026.11', devices: [D.byName] });
  expectContract(long);
  expect(long.status).toBe(400);
});

it('refuses request bodies over 1 MiB with 413 (about 26,000 device ids in one deployment)', async () => {
  // deployments config/config.go: request_size_limit 1 MiB; api/http/routing.go applies
  // requestsize.Middleware to the management API (not to the artifact upload).
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
  const big = await api.post(`${M}/v1/deployments/deployments`, { name: 'big', artifact_name: 'pi4-2026.11', devices: ids(27_000) });
  expectContract(big, { specGap: true });
  expect(big.status).toBe(413);
  const fits = await api.post(`${M}/v1/deployments/deployments`, { name: 'fits', artifact_name: 'pi4-2026.11', devices: ids(25_000) });
  expect(fits.status).toBe(201);
  await api.put(`${M}/v1/deployments/deployments/${String(fits.headers.location).split('/').pop()}/status`, { status: 'aborted' });
});

it('answers more than 100 configuration keys with 500, as the store validation fails', async () => {
  // deviceconfig model/attribute.go: Attributes.Validate (validateAttributesLength) runs in the
  // store (ReplaceConfiguration), after the handler's own checks: a 500, not a 400.
  const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`key${i}`, 'v']));
  const url = `${M}/v1/deviceconfig/configurations/device/${D.byName}`;
  const many = await api.put(url, keys(101));
  expectContract(many);
  expect(many.status).toBe(500);
  expect((await api.put(url, keys(100))).status).toBe(204);
  expect(Object.keys((await api.get(url)).data.configured)).toHaveLength(100);
});

it('creates the configuration deployment later, and only the device itself changes `reported`', async () => {
  // deviceconfig app/app.go, DeployConfiguration → the deploy_device_configuration workflow;
  // SetReportedConfiguration is the device API's PUT (mender-configure on the device).
  const url = `${M}/v1/deviceconfig/configurations/device/${D.byName}`;
  await api.put(url, { timezone: 'UTC' });
  const before = (await api.get(url)).data.reported;
  const deploy = await api.post(`${url}/deploy`, {});
  const depId = deploy.data.deployment_id as string;
  expect((await api.get(`${M}/v1/deployments/deployments/${depId}/statistics`)).status).toBe(404);
  expect((await api.get(url)).data).toMatchObject({ deployment_id: depId, reported: before });
  // The workflow is due an hour later on the emulator's clock, whatever the machine's load.
  await fetch(`${emu.url}/__emulator/time`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advance_ms: HOUR_MS }) });
  await finished(depId);
  expect((await api.get(url)).data.reported).toEqual({ timezone: 'UTC' });
});

it('shows updated_ts as null for a record only the device created', async () => {
  // deviceconfig model/device.go: updated_ts has no omitempty; ReplaceReportedConfiguration
  // upserts without it for a device ProvisionDevice never saw.
  const url = `${M}/v1/deviceconfig/configurations/device/${D.unprovisioned}`;
  expect((await api.get(url)).status).toBe(404);
  const mac = (await api.get(`${M}/v1/inventory/devices/${D.unprovisioned}`)).data.attributes.find((a: { name: string }) => a.name === 'mac').value;
  const auth = await authRequest(emu.url, { mac }, deviceKey());
  const reported = await client(emu.url, auth.text).put('/api/devices/v1/deviceconfig/configuration', { mode: 'kiosk' });
  expect(reported.status).toBe(204);
  const res = await api.get(url);
  expect(res.data).toMatchObject({ reported: { mode: 'kiosk' }, configured: {}, updated_ts: null });
});

it('lists artifacts with case-insensitive substring filters, and takes per_page over 500 as 20', async () => {
  // deployments store/mongo/datastore_mongo.go, ListImages: each filter is a $regex with
  // option "i"; api/http: a per_page above the maximum falls back to the default.
  const list = (params: Record<string, unknown>) => api.get(`${M}/v1/deployments/artifacts/list`, { params });
  const names = (res: { data: { name: string }[] }) => res.data.map((a) => a.name);
  expect(names(await list({ name: 'kiosk-image' }))).toEqual(['Kiosk-Image-A']);
  expect(names(await list({ description: 'hall' }))).toEqual(['Kiosk-Image-A']);
  expect(names(await list({ device_type: 'PI4' })).length).toBe(4);
  const paged = await list({ per_page: 501 });
  expectContract(paged);
  expect(paged.status).toBe(200);
  const link = String(paged.headers.link);
  expect(link).toContain('per_page=20');
});
