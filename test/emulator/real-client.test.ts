// The real Mender client against the emulator: Debian's `mender` 3.4 daemon, its own config and
// data in a temporary directory, plain http to the emulator on 127.0.0.1. What it shows is what
// a device does with mender-server: its first auth request is recorded as pending, a person
// accepts it, it gets a token, sends its inventory, polls for deployments, and downloads,
// installs and reports an update module artifact written with the real mender-artifact.
import { AxiosInstance } from 'axios';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunningEmulator, startEmulator } from '../../emulator';
import { writeWithMenderArtifact } from '../helpers/mender-artifact-tool';
import { CLIENT_FILES_WAIT_MS, clientUnavailable, daemonKey, INITIAL_ARTIFACT, installClientFiles, MenderDaemon, REBOOT_MODULE_TYPE, SLOW_INSTALL_GATE, SLOW_MODULE_TYPE, startDaemon } from '../helpers/mender-daemon';
import { createMenderClient, runningImages } from '../../provider/mender';
import { client, expectContract, TOKEN, waitFor } from './support';

const V2 = '/api/management/v2/devauth';
const M = '/api/management/v1';
const DEVICE_TYPE = 'fleet-test-x86';
const WORLD_DEVICE = '7d3c0a51-5f0e-4d8a-9c7b-000000000042';
const WORLD_MAC = '52:54:00:fe:00:42';
/** A world device marked `real_client`, and a world artifact with a real file for it. */
const WORLD_REAL = '7d3c0a51-5f0e-4d8a-9c7b-000000000043';
const WORLD_REAL_MAC = '52:54:00:fe:00:43';
const WORLD_FILE_ARTIFACT = 'world-motd-1.0';
let worldWork: string;
/** The daemon generates a 3072-bit key, authenticates, retries: allow for a busy machine. */
const SLOW = 90_000;

let emu: RunningEmulator;
let api: AxiosInstance;
let restoreClientFiles: (() => void) | undefined;
const daemons: MenderDaemon[] = [];

interface ApiDevice {
  id: string;
  identity_data: Record<string, unknown>;
  status: string;
  auth_sets: { id: string; pubkey: string; status: string }[];
}
interface Attribute {
  name: string;
  value: unknown;
  scope: string;
}

beforeAll(async () => {
  const why = clientUnavailable();
  if (why) throw new Error(`cannot run the real mender client: ${why}`);
  restoreClientFiles = await installClientFiles();
  worldWork = fs.mkdtempSync(path.join(os.tmpdir(), 'real-client-world-'));
  const worldFile = writeWithMenderArtifact(
    {
      name: WORLD_FILE_ARTIFACT,
      deviceTypes: [DEVICE_TYPE],
      kind: {
        type: 'module-image',
        module: 'single-file',
        files: [
          { name: 'dest_dir', content: path.join(worldWork, 'installed') },
          { name: 'filename', content: 'motd' },
          { name: 'motd', content: 'from the world file\n' },
        ],
      },
    },
    worldWork,
  );
  emu = await startEmulator({
    world: {
      artifacts: [
        { name: 'world-1.0', device_types: [DEVICE_TYPE] },
        { name: WORLD_FILE_ARTIFACT, device_types: [DEVICE_TYPE], file: worldFile },
      ],
      devices: [
        { id: WORLD_DEVICE, device_type: DEVICE_TYPE, artifact_name: 'world-1.0', identity: { mac: WORLD_MAC }, attributes: { subscribed_branch: 'stable' } },
        { id: WORLD_REAL, device_type: DEVICE_TYPE, artifact_name: 'world-1.0', identity: { mac: WORLD_REAL_MAC }, real_client: true },
      ],
      tokens: [TOKEN],
      users: [],
    },
  });
  api = client(emu.url);
  // installClientFiles may wait for another test file that has the client's fixed paths.
}, CLIENT_FILES_WAIT_MS + 60_000);

afterEach(async () => {
  // A failed test shows what the daemons said.
  for (const d of daemons.splice(0)) {
    await d.stop();
    fs.rmSync(d.dir, { recursive: true, force: true });
  }
});

afterAll(async () => {
  await emu?.close();
  restoreClientFiles?.();
  if (worldWork) fs.rmSync(worldWork, { recursive: true, force: true });
});

function daemon(mac: string, extra: { inventory?: string; privateKeyPem?: string } = {}): MenderDaemon {
  const d = startDaemon({ serverUrl: emu.url, mac, deviceType: DEVICE_TYPE, ...extra });
  daemons.push(d);
  return d;
}

async function waitWithLog<T>(what: string, d: MenderDaemon, probe: () => Promise<T | undefined>): Promise<T> {
  try {
    return await waitFor(what, probe, SLOW);
  } catch (err) {
    throw new Error(`${(err as Error).message}; the daemon's log ends:\n${d.log().split('\n').slice(-30).join('\n')}`, { cause: err });
  }
}

async function deviceByMac(mac: string): Promise<ApiDevice | undefined> {
  const res = await api.get(`${V2}/devices`, { params: { per_page: 500 } });
  expectContract(res);
  return (res.data as ApiDevice[]).find((d) => d.identity_data.mac === mac);
}

async function inventory(id: string): Promise<Record<string, unknown>> {
  const res = await api.get(`${M}/inventory/devices/${id}`);
  if (res.status !== 200) return {};
  return Object.fromEntries((res.data.attributes as Attribute[]).filter((a) => a.scope === 'inventory').map((a) => [a.name, a.value]));
}

async function requests(): Promise<{ method: string; path: string; status: number }[]> {
  return (await fetch(`${emu.url}/__emulator/requests`)).json() as Promise<{ method: string; path: string; status: number }[]>;
}

async function upload(file: string): Promise<void> {
  const bytes = fs.readFileSync(file);
  const form = new FormData();
  form.append('size', String(bytes.length));
  form.append('artifact', new Blob([bytes]), path.basename(file));
  const res = await api.post(`${M}/deployments/artifacts`, form);
  expect(res.status).toBe(201);
}

async function deploy(name: string, artifactName: string, deviceId: string): Promise<string> {
  const res = await api.post(`${M}/deployments/deployments`, { name, artifact_name: artifactName, devices: [deviceId] });
  expect(res.status).toBe(201);
  return String(res.headers.location).split('/').pop()!;
}

async function finishedDeployment(d: MenderDaemon, id: string): Promise<{ status: string; statistics: { status: Record<string, number> } }> {
  return waitWithLog(`deployment ${id} to finish`, d, async () => {
    const res = await api.get(`${M}/deployments/deployments/${id}`);
    return res.data.status === 'finished' ? res.data : undefined;
  });
}

it('a new daemon is pending until accepted, then gets a token, sends inventory, polls, and installs a single-file update', async () => {
  const mac = '52:54:00:fe:00:01';
  const d = daemon(mac, { inventory: 'first' });

  // SubmitAuthRequest (deviceauth devauth/devauth.go): the unknown device is recorded, pending, 401.
  const pending = await waitWithLog('the daemon to appear as pending', d, async () => {
    const dev = await deviceByMac(mac);
    return dev?.status === 'pending' ? dev : undefined;
  });
  expect(pending.auth_sets).toEqual([expect.objectContaining({ status: 'pending', pubkey: expect.stringMatching(/^-----BEGIN PUBLIC KEY-----\n/) })]);
  expect((await requests()).some((r) => r.path === '/api/devices/v1/authentication/auth_requests' && r.status === 401)).toBe(true);
  expect(await inventory(pending.id)).toEqual({});

  // A person accepts it (UpdateDeviceStatusHandler); its next auth request gets a token.
  const accepted = await api.put(`${V2}/devices/${pending.id}/auth/${pending.auth_sets[0].id}/status`, { status: 'accepted' });
  expectContract(accepted);
  expect(accepted.status).toBe(204);

  // Its inventory update (PUT …/inventory/device/attributes) carries what the client knows and
  // what the inventory script printed.
  const inv = await waitWithLog('the daemon’s inventory', d, async () => {
    const i = await inventory(pending.id);
    return i.fleet_test ? i : undefined;
  });
  expect(inv).toMatchObject({ device_type: DEVICE_TYPE, artifact_name: INITIAL_ARTIFACT, fleet_test: 'first', mender_client_version: expect.stringMatching(/^3\.4\./) });
  const authOk = (await requests()).filter((r) => r.path === '/api/devices/v1/authentication/auth_requests' && r.status === 200);
  expect(authOk.length).toBeGreaterThanOrEqual(1);

  // It polls: the 3.4 client POSTs v2 (404, as on mender-server), then v1 (GetDeploymentForDevice).
  await waitWithLog('the daemon to poll for deployments', d, async () =>
    (await requests()).find((r) => r.method === 'POST' && r.path === '/api/devices/v1/deployments/device/deployments/next' && r.status === 204),
  );

  // An update through the single-file module Debian ships, into a directory of this test.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'single-file-'));
  const dest = path.join(work, 'installed');
  const file = writeWithMenderArtifact({
    name: 'motd-2.0',
    deviceTypes: [DEVICE_TYPE],
    kind: {
      type: 'module-image',
      module: 'single-file',
      files: [
        { name: 'dest_dir', content: dest },
        { name: 'filename', content: 'motd' },
        { name: 'motd', content: 'installed by a real mender client\n' },
      ],
    },
  });
  await upload(file);
  const depId = await deploy('motd to the real client', 'motd-2.0', pending.id);
  const dep = await finishedDeployment(d, depId);
  expect(dep.statistics.status).toMatchObject({ success: 1, failure: 0 });
  expect(fs.readFileSync(path.join(dest, 'motd'), 'utf8')).toBe('installed by a real mender client\n');
  // The client commits the artifact's name and reports it with its next inventory.
  await waitWithLog('the new artifact_name in inventory', d, async () => ((await inventory(pending.id)).artifact_name === 'motd-2.0' ? true : undefined));
  fs.rmSync(work, { recursive: true, force: true });
});

it('a preauthorized daemon is accepted on its first auth request', async () => {
  const mac = '52:54:00:fe:00:02';
  const key = daemonKey();
  // PreauthorizeDevice, then processPreAuthRequest → handlePreAuthDevice on the first request.
  const pre = await api.post(`${V2}/devices`, { identity_data: { mac }, pubkey: key.publicPem });
  expectContract(pre);
  expect(pre.status).toBe(201);
  const id = String(pre.headers.location).replace(/^devices\//, '');
  const d = daemon(mac, { privateKeyPem: key.privatePem, inventory: 'preauthorized' });
  const inv = await waitWithLog('the preauthorized daemon’s inventory', d, async () => {
    const i = await inventory(id);
    return i.fleet_test ? i : undefined;
  });
  expect(inv).toMatchObject({ device_type: DEVICE_TYPE, fleet_test: 'preauthorized' });
  expect(await deviceByMac(mac)).toMatchObject({ id, status: 'accepted', auth_sets: [{ status: 'accepted' }] });
});

it('a world device played by a daemon is accepted by the world, and its inventory is what the daemon sends', async () => {
  const d = daemon(WORLD_MAC, { inventory: 'world' });
  const inv = await waitWithLog('the world device’s inventory from the daemon', d, async () => {
    const i = await inventory(WORLD_DEVICE);
    return i.fleet_test ? i : undefined;
  });
  // inventory's UpdateDeviceAttributesHandler: a PUT replaces the inventory scope
  // (ReplaceAttributes), so the world's subscribed_branch goes and the daemon's artifact stays.
  expect(inv).toEqual(expect.objectContaining({ device_type: DEVICE_TYPE, artifact_name: INITIAL_ARTIFACT, fleet_test: 'world' }));
  expect(inv).not.toHaveProperty('subscribed_branch');
  const dev = await deviceByMac(WORLD_MAC);
  expect(dev).toMatchObject({ id: WORLD_DEVICE, status: 'accepted', auth_sets: [{ status: 'accepted', pubkey: expect.stringMatching(/^-----BEGIN PUBLIC KEY-----/) }] });
});

it('a failed install through the script module is reported as a failure with the daemon’s log', async () => {
  const mac = '52:54:00:fe:00:03';
  const key = daemonKey();
  const pre = await api.post(`${V2}/devices`, { identity_data: { mac }, pubkey: key.publicPem });
  const id = String(pre.headers.location).replace(/^devices\//, '');
  const d = daemon(mac, { privateKeyPem: key.privatePem, inventory: 'failing' });
  await waitWithLog('the daemon’s inventory', d, async () => ((await inventory(id)).fleet_test ? true : undefined));
  const file = writeWithMenderArtifact({
    name: 'broken-3.0',
    deviceTypes: [DEVICE_TYPE],
    kind: { type: 'module-image', module: 'script', files: [{ name: 'install.sh', content: '#!/bin/sh\necho "fleet-test: this update fails on purpose" >&2\nexit 3\n' }] },
  });
  await upload(file);
  const depId = await deploy('a broken update', 'broken-3.0', id);
  const dep = await finishedDeployment(d, depId);
  expect(dep.statistics.status).toMatchObject({ failure: 1, success: 0 });
  // The daemon's log of the failed update (PUT …/log), with the module's stderr. Under load
  // the upload can come after the status that finished the deployment: wait for it.
  const log = await waitWithLog('the daemon’s deployment log', d, async () => {
    const answer = await api.get(`${M}/deployments/deployments/${depId}/devices/${id}/log`);
    return answer.status === 200 ? answer : undefined;
  });
  expect(log.status).toBe(200);
  expect(String(log.data)).toContain('fleet-test: this update fails on purpose');
  // The script module cannot roll back (it answers no SupportsRollback), so the client leaves
  // the device marked inconsistent: it commits `<name>_INCONSISTENT` as its artifact name and
  // reports it. A real fleet shows this; the simulation does not (it keeps the old artifact).
  await waitWithLog('the inconsistent artifact name in inventory', d, async () =>
    (await inventory(id)).artifact_name === 'broken-3.0_INCONSISTENT' ? true : undefined,
  );
});

it('a configuration deployment installs through the mender-configure module, and the client commits configuration-<id>', async () => {
  const mac = '52:54:00:fe:00:04';
  const key = daemonKey();
  const pre = await api.post(`${V2}/devices`, { identity_data: { mac }, pubkey: key.publicPem });
  const id = String(pre.headers.location).replace(/^devices\//, '');
  const d = daemon(mac, { privateKeyPem: key.privatePem, inventory: 'configured' });
  await waitWithLog('the daemon’s inventory', d, async () => ((await inventory(id)).fleet_test ? true : undefined));
  // First a software update, the "OS image" the device runs.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'single-file-'));
  const image = writeWithMenderArtifact({
    name: 'app-image-3.0',
    deviceTypes: [DEVICE_TYPE],
    kind: { type: 'module-image', module: 'single-file', files: [{ name: 'dest_dir', content: work }, { name: 'filename', content: 'app' }, { name: 'app', content: 'v3\n' }] },
  });
  await upload(image);
  expect((await finishedDeployment(d, await deploy('the image', 'app-image-3.0', id))).statistics.status).toMatchObject({ success: 1 });
  await waitWithLog('the image’s name in inventory', d, async () => ((await inventory(id)).artifact_name === 'app-image-3.0' ? true : undefined));
  fs.rmSync(work, { recursive: true, force: true });

  const configuration = { timezone: 'Europe/Oslo', kiosk_url: 'https://example.org/?a=1&b=2' };
  expect((await api.put(`${M}/deviceconfig/configurations/device/${id}`, configuration)).status).toBe(204);
  const deployed = await api.post(`${M}/deviceconfig/configurations/device/${id}/deploy`, {});
  expect(deployed.status).toBe(200);
  const depId = String(deployed.data.deployment_id);
  // The workflow creates the deployment a moment later (deploy_device_configuration).
  await waitWithLog('the configuration deployment to exist', d, async () => ((await api.get(`${M}/deployments/deployments/${depId}`)).status === 200 ? true : undefined));
  const dep = await finishedDeployment(d, depId);
  expect(dep.statistics.status).toMatchObject({ success: 1, failure: 0 });
  // GenerateConfigurationImage's meta-data reached the module unchanged.
  expect(JSON.parse(fs.readFileSync(path.join(d.workDir, 'device-config.json'), 'utf8'))).toEqual(configuration);
  // The client commits the artifact's name: configuration-<deployment id> (what the project's
  // observed.ts must not take for the OS image).
  await waitWithLog('configuration-<id> as artifact_name', d, async () => ((await inventory(id)).artifact_name === `configuration-${depId}` ? true : undefined));
  // The client keeps the image's provides next to the configuration's (the configuration
  // artifact clears only data-partition.mender-configure.*), but its inventory (3.4) reports
  // none of them: only artifact_name, device_type, mender_client_version and the scripts'.
  expect(d.showProvides()).toEqual({
    artifact_name: `configuration-${depId}`,
    'data-partition.mender-configure.version': `configuration-${depId}`,
    'rootfs-image.single-file.version': 'app-image-3.0',
  });
  expect(Object.keys(await inventory(id)).sort()).toEqual(['artifact_name', 'device_type', 'fleet_test', 'mender_client_version']);
  // So the project tells the image from the device's deployment history (observed.ts
  // devicesWithImages): the image, not configuration-<id>.
  const images = await runningImages(createMenderClient({ serverUrl: emu.url, token: TOKEN }), [id]);
  expect(images.get(id)).toBe('app-image-3.0');
});

it('a world device marked real_client waits for its daemon, which installs a world artifact that has a file', async () => {
  const depId = await deploy('to the real world device', WORLD_FILE_ARTIFACT, WORLD_REAL);
  // The simulation does not play it: a day of simulated time (the world's devices poll every
  // 30 ms, FAST_TIMING, and the advance runs every poll due in it), still no device record, the
  // deployment still pending.
  const advanced = await client(emu.url, null).post('/__emulator/time', { advance_ms: 24 * 3600 * 1000 });
  expect(advanced.status).toBe(200);
  expect((await api.get(`${M}/deployments/deployments/${depId}`)).data.status).toBe('pending');
  expect((await api.get(`${M}/deployments/deployments/${depId}/devices`)).data).toEqual([]);
  const d = daemon(WORLD_REAL_MAC, { inventory: 'real world' });
  const dep = await finishedDeployment(d, depId);
  expect(dep.statistics.status).toMatchObject({ success: 1 });
  expect(fs.readFileSync(path.join(worldWork, 'installed', 'motd'), 'utf8')).toBe('from the world file\n');
  await waitWithLog('the world artifact’s name in inventory', d, async () => ((await inventory(WORLD_REAL)).artifact_name === WORLD_FILE_ARTIFACT ? true : undefined));
});

it('an update whose module asks for a reboot goes through ArtifactReboot and is committed', async () => {
  const mac = '52:54:00:fe:00:05';
  const key = daemonKey();
  const pre = await api.post(`${V2}/devices`, { identity_data: { mac }, pubkey: key.publicPem });
  const id = String(pre.headers.location).replace(/^devices\//, '');
  const d = daemon(mac, { privateKeyPem: key.privatePem, inventory: 'rebooting' });
  await waitWithLog('the daemon’s inventory', d, async () => ((await inventory(id)).fleet_test ? true : undefined));
  const file = writeWithMenderArtifact({
    name: 'needs-reboot-1.0',
    deviceTypes: [DEVICE_TYPE],
    kind: { type: 'module-image', module: REBOOT_MODULE_TYPE, files: [{ name: 'payload.txt', content: 'reboot me\n' }] },
  });
  await upload(file);
  const depId = await deploy('an update with a reboot', 'needs-reboot-1.0', id);
  const dep = await finishedDeployment(d, depId);
  expect(dep.statistics.status).toMatchObject({ success: 1, failure: 0 });
  // The client ran the module's ArtifactReboot once, then verified and committed.
  expect(fs.readFileSync(path.join(d.workDir, 'rebooted'), 'utf8').trim().split('\n')).toHaveLength(1);
  expect(d.log()).toMatch(/-> reboot \[ArtifactReboot_Enter\]/);
  await waitWithLog('the new artifact_name in inventory', d, async () => ((await inventory(id)).artifact_name === 'needs-reboot-1.0' ? true : undefined));
});

it('a deployment aborted while the daemon installs is rolled back by the client, which keeps its artifact', async () => {
  const mac = '52:54:00:fe:00:06';
  const key = daemonKey();
  const pre = await api.post(`${V2}/devices`, { identity_data: { mac }, pubkey: key.publicPem });
  const id = String(pre.headers.location).replace(/^devices\//, '');
  const d = daemon(mac, { privateKeyPem: key.privatePem, inventory: 'aborted' });
  await waitWithLog('the daemon’s inventory', d, async () => ((await inventory(id)).fleet_test ? true : undefined));
  const file = writeWithMenderArtifact({
    name: 'slow-1.0',
    deviceTypes: [DEVICE_TYPE],
    kind: { type: 'module-image', module: SLOW_MODULE_TYPE, files: [{ name: 'payload.txt', content: 'slow\n' }] },
  });
  await upload(file);
  const depId = await deploy('a slow update', 'slow-1.0', id);
  await waitWithLog('the daemon to install', d, async () => {
    const devices = (await api.get(`${M}/deployments/deployments/${depId}/devices`)).data as { status: string }[];
    return devices[0]?.status === 'installing' ? true : undefined;
  });
  const abort = await api.put(`${M}/deployments/deployments/${depId}/status`, { status: 'aborted' });
  expect(abort.status).toBe(204);
  // The module's install lasted until now (it waits for SLOW_INSTALL_GATE). The client finishes
  // installing, then its status report gets 409 (the emulator's report() of an aborted device
  // deployment): it rolls the module back, runs ArtifactFailure, and keeps the artifact it had.
  d.openGate(SLOW_INSTALL_GATE);
  await waitWithLog('the rollback', d, async () => {
    const log = path.join(d.workDir, 'slow.log');
    return fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('ArtifactFailure') ? true : undefined;
  });
  expect(fs.readFileSync(path.join(d.workDir, 'slow.log'), 'utf8').trim().split('\n')).toEqual(['ArtifactInstall', 'ArtifactRollback', 'ArtifactFailure']);
  expect(d.log()).toContain('Status report rejected, deployment aborted at the backend');
  expect((await api.get(`${M}/deployments/deployments/${depId}/devices`)).data).toEqual([expect.objectContaining({ id, status: 'aborted' })]);
  expect((await api.get(`${M}/deployments/deployments/${depId}`)).data.status).toBe('finished');
  expect(d.showProvides()).toEqual({});
  await waitWithLog('the old artifact_name in inventory', d, async () => ((await inventory(id)).artifact_name === INITIAL_ARTIFACT ? true : undefined));
});
