// The resources against the emulator as mender-server behaves (see test/emulator/fidelity.test.ts
// for the source of each behaviour): device deployments made only when devices poll, the
// per-device abort that leaves a deployment unable to finish, the asynchronous configuration
// deploy, the server's limits, and "already installed" judged by artifact name.
import type { World } from '../../emulator';
import { EmulatorHandle, emulatorFor, mutating, ApiDeployment } from '../helpers/emulator';
import { configure } from '../../provider/settings';
import { deploymentName, menderDeployment } from '../../provider/mender-deployment';
import { deviceConfiguration } from '../../provider/device-configuration';
import type { DeviceConfigurationInputs, MenderDeploymentInputs, MenderDeploymentOutputs } from '../../provider/types';
import { DEFAULT_POLICY } from '../../provider/rollout/policy';

const TOKEN = 'provider-fidelity-token-91d2';
const PI4 = 'raspberrypi4';
const DEV = Array.from({ length: 6 }, (_, i) => `f000000${i + 1}-aaaa-4bbb-8ccc-dddddddddddd`);
const [D1, D2, D3, D4, D5, D6] = DEV;
const DEPLOYMENTS = '/api/management/v1/deployments/deployments';
const ROLLOUT = { timeoutSeconds: 30, pollSeconds: 0.05 };
// Devices here stay silent for simulated hours: they must not count as timed out meanwhile.
const POLICY = { ...DEFAULT_POLICY, deviceTimeoutMinutes: 24 * 60, waitMinutes: 0.5 };
const HOUR = 3600_000;

const world: World = {
  artifacts: [
    { name: 'os-1.0', device_types: [PI4] },
    { name: 'os-2.0', device_types: [PI4], provides: { 'rootfs-image.version': '2.0.0' } },
  ],
  devices: DEV.map((id) => ({ id, device_type: PI4, artifact_name: 'os-1.0' })),
  tokens: [TOKEN],
  users: [],
};

let emu: EmulatorHandle;
afterEach(async () => {
  await emu.emulator.close();
});

async function start(w = world, timing = {}): Promise<void> {
  emu = await emulatorFor(w, TOKEN, { pollIntervalMs: 50, stepMs: 20, workflowDelayMs: 100, ...timing });
  configure({ serverUrl: emu.emulator.url, token: TOKEN });
}

async function checked(raw: MenderDeploymentInputs): Promise<MenderDeploymentInputs> {
  const { inputs, failures } = await menderDeployment.check!({} as MenderDeploymentInputs, raw);
  expect(failures ?? []).toEqual([]);
  return inputs!;
}
const inputs = (devices: string[], extra: Partial<MenderDeploymentInputs> = {}): MenderDeploymentInputs => ({
  artifactName: 'os-2.0',
  devices,
  namePrefix: 'canary',
  rollout: ROLLOUT,
  policy: extra.rollout?.waitForCompletion === false ? { ...POLICY, waitMinutes: 0 } : POLICY,
  ...extra,
});
const software = async () => (await emu.api<ApiDeployment[]>('GET', `${DEPLOYMENTS}?per_page=500`)).filter((d) => d.type !== 'configuration');
const creations = async () => mutating(await emu.requests()).filter((r) => r.method === 'POST' && r.path === DEPLOYMENTS);
const running = async (id: string) =>
  (await emu.api<{ attributes: { name: string; scope: string; value: string }[] }>('GET', `/api/management/v1/inventory/devices/${id}`)).attributes.find(
    (a) => a.scope === 'inventory' && a.name === 'artifact_name',
  )?.value;
const history = async (id: string) => emu.api<{ deployment: { id: string; name: string }; device: { status: string } }[]>('GET', `${DEPLOYMENTS}/devices/${id}`);

it('1. converges devices that have not polled yet, and read does not call them out of sync meanwhile', async () => {
  // D1 and D2 poll for the first time an hour (simulated) after the start.
  await start({ ...world, devices: world.devices.map((d) => (d.id === D1 || d.id === D2 ? { ...d, behavior: { first_poll_after_ms: HOUR } } : d)) });
  const created = await menderDeployment.create(await checked(inputs([D1, D2, D3], { rollout: { ...ROLLOUT, waitForCompletion: false } })));
  const outs = created.outs as MenderDeploymentOutputs;
  // Their device deployments do not exist yet: a status=active query would not name them.
  const [deployment] = await software();
  expect(await emu.api('GET', `${DEPLOYMENTS}/${deployment.id}/devices/list?status=active`)).not.toEqual(
    expect.arrayContaining([expect.objectContaining({ id: D1 })]),
  );
  await emu.clearRequests();
  const read = await menderDeployment.read!(created.id, outs);
  expect((read.props as MenderDeploymentOutputs).outOfSync).toEqual([]);
  // Under way: the preview shows the update that the next up makes to move it on.
  expect(await menderDeployment.diff!(created.id, read.props as MenderDeploymentOutputs, await checked(inputs([D1, D2, D3], { rollout: { ...ROLLOUT, waitForCompletion: false } })))).toMatchObject({ changes: true });
  // A second create (the engine retrying) adopts the deployment instead of making another.
  const again = menderDeployment.create(await checked(inputs([D1, D2, D3])));
  await emu.admin('POST', '/time', { advance_ms: HOUR });
  const { outs: done } = await again;
  expect(await creations()).toEqual([]);
  expect(done).toMatchObject({ status: 'finished', deploymentIds: [deployment.id] });
  for (const d of [D1, D2, D3]) expect(await running(d)).toBe('os-2.0');
});

it('1. takes a device out of an older deployment it has not polled for, so it does not install that first', async () => {
  await start({ ...world, devices: world.devices.map((d) => (d.id === D1 ? { ...d, behavior: { first_poll_after_ms: HOUR } } : d)) });
  // A deployment made by hand for D1 and D4: D4 takes it, D1 has not polled.
  await emu.api('POST', DEPLOYMENTS, { name: 'by hand', artifact_name: 'os-1.0', devices: [D1, D4], force_installation: true });
  await emu.clearRequests();
  const creating = menderDeployment.create(await checked(inputs([D1])));
  // Once ours exists, D1 starts polling.
  for (let i = 0; i < 200 && (await creations()).length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  await emu.admin('POST', '/time', { advance_ms: HOUR });
  const { outs } = await creating;
  expect(outs?.status).toBe('finished');
  const h = await history(D1);
  expect(h.map((x) => [x.deployment.name, x.device.status])).toEqual([
    [deploymentName('canary', 'os-2.0', [D1]), 'success'],
    ['by hand', 'aborted'],
  ]);
  expect(await running(D1)).toBe('os-2.0');
});

it('2. never adopts a deployment that a per-device abort left unable to finish; aborts it and deploys again', async () => {
  await start({ ...world, devices: world.devices.map((d) => (d.id === D2 ? { ...d, behavior: { offline: true } } : d)) });
  const name = deploymentName('canary', 'os-2.0', [D1, D2]);
  await emu.api('POST', DEPLOYMENTS, { name, artifact_name: 'os-2.0', devices: [D1, D2] });
  const [stuck] = await software();
  // D1 finishes; D2 is aborted by a DELETE: an aborted record, statistics still count it pending.
  for (let i = 0; i < 200 && (await running(D1)) !== 'os-2.0'; i++) await new Promise((r) => setTimeout(r, 25));
  await emu.api('DELETE', `${DEPLOYMENTS}/devices/${D2}`);
  expect((await emu.api<ApiDeployment>('GET', `${DEPLOYMENTS}/${stuck.id}`)).status).not.toBe('finished');

  await emu.admin('POST', `/devices/${D2}/behavior`, {});
  await emu.clearRequests();
  const { outs } = await menderDeployment.create(await checked(inputs([D1, D2])));
  const log = mutating(await emu.requests());
  expect(log.filter((r) => r.method === 'PUT').map((r) => r.path)).toEqual([`${DEPLOYMENTS}/${stuck.id}/status`]);
  expect(await creations()).toHaveLength(1);
  expect(outs?.deploymentIds).not.toContain(stuck.id);
  expect(outs?.status).toBe('finished');
  expect(await running(D2)).toBe('os-2.0');
  expect((await emu.api<ApiDeployment>('GET', `${DEPLOYMENTS}/${stuck.id}`)).status).toBe('finished');
});

it('3. waits for the configuration deployment the workflows service makes later, and for the device’s own report', async () => {
  await start(world, { workflowDelayMs: 1500 });
  const config: DeviceConfigurationInputs = { deviceId: D3, values: { timezone: 'UTC' }, secretValues: {}, timeoutSeconds: 30 };
  const { outs } = await deviceConfiguration.create(config);
  expect(outs).toMatchObject({ inSync: true });
  const state = await emu.api<{ reported: Record<string, string>; deployment_id: string }>('GET', `/api/management/v1/deviceconfig/configurations/device/${D3}`);
  expect(state).toMatchObject({ reported: { timezone: 'UTC' }, deployment_id: outs!.deploymentId });
  // Statistics were asked for before the deployment existed, and that 404 was waited out.
  const stats = (await emu.requests()).filter((r) => r.path === `${DEPLOYMENTS}/${outs!.deploymentId}/statistics`);
  expect(stats.some((r) => r.status === 404)).toBe(true);
  // Asked again with the device already reporting it: nothing is sent.
  await emu.clearRequests();
  await deviceConfiguration.create(config);
  expect(mutating(await emu.requests())).toEqual([]);
});

it('3. names the device when its configuration deployment never appears', async () => {
  await start(world, { workflowDelayMs: 10 * HOUR });
  const error = await deviceConfiguration.create({ deviceId: D4, values: { a: 'b' }, secretValues: {}, timeoutSeconds: 1 }).then(
    () => undefined,
    (e: Error) => e,
  );
  expect(error?.message).toMatch(new RegExp(`configuration deployment [0-9a-f-]+ for device ${D4} did not appear in Mender within 1s`));
});

it('4. check refuses more than 100 configuration keys and deployment names over 256 characters, before anything is sent', async () => {
  await start();
  await emu.clearRequests();
  const keys = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 'v']));
  const config = await deviceConfiguration.check!({} as DeviceConfigurationInputs, { deviceId: D1, values: keys, secretValues: {} });
  expect(config.failures).toEqual([expect.objectContaining({ reason: expect.stringContaining(`device ${D1} would get 101 configuration keys and Mender accepts at most 100`) })]);
  const long = await menderDeployment.check!({} as MenderDeploymentInputs, inputs([D1], { artifactName: 'x'.repeat(240) }));
  expect(long.failures).toEqual([expect.objectContaining({ property: 'artifactName', reason: expect.stringContaining('Mender allows 256') })]);
  expect(await emu.requests()).toEqual([]);
});

it('4. splits a device set too large for one request into deterministic parts, adopted again after a crash', async () => {
  await start(world, { pollIntervalMs: HOUR });
  const raw = inputs([D1, D2, D3, D4, D5], { rollout: { ...ROLLOUT, maxDevicesPerDeployment: 2, waitForCompletion: false } });
  const first = await menderDeployment.create(await checked(raw));
  const parts = await software();
  expect(parts.map((d) => d.name).sort()).toEqual(
    [
      [D1, D2],
      [D3, D4],
      [D5],
    ].map((p) => deploymentName('canary', 'os-2.0', p)).sort(),
  );
  expect(first.outs!.activeDeploymentIds).toHaveLength(3);
  // The engine lost the answer and creates again: every part is adopted, none is made twice.
  await emu.clearRequests();
  const second = await menderDeployment.create(await checked(raw));
  expect(await creations()).toEqual([]);
  expect([...second.outs!.activeDeploymentIds!].sort()).toEqual(parts.map((d) => d.id).sort());
  await emu.admin('POST', '/time', { advance_ms: 10 * HOUR });
});

it('5. judges what a device runs by artifact_name: deploys only where needed, and not at all when none is left', async () => {
  await start({
    ...world,
    devices: [
      { id: D5, device_type: PI4, artifact_name: 'os-2.0' },
      // Reports the version string os-2.0 provides, but runs another artifact.
      { id: D6, device_type: PI4, artifact_name: 'os-1.0', attributes: { 'rootfs-image.version': '2.0.0' } },
    ],
  });
  const { outs } = await menderDeployment.create(await checked(inputs([D5, D6])));
  const [deployment] = await software();
  expect(await emu.api<string[]>('GET', `${DEPLOYMENTS}/${deployment.id}/device_list`)).toEqual([D6]);
  expect(outs).toMatchObject({ status: 'finished', alreadyRunning: 1 });
  expect(await history(D5)).toEqual([]);
  expect(await running(D6)).toBe('os-2.0');

  // Every device runs it now: a new resource for the set sends no deployment at all.
  await emu.clearRequests();
  const again = await menderDeployment.create(await checked(inputs([D5, D6], { namePrefix: 'production' })));
  expect(mutating(await emu.requests())).toEqual([]);
  expect(again.outs).toMatchObject({ status: 'up-to-date', deploymentIds: [], alreadyRunning: 2 });
});
