// Each provider method of the three resources, called directly, against an in-process emulator
// over real HTTP (no mocks). Faults (429 with Retry-After, bursts of 503, a connection reset in
// the middle of a create) come from the emulator's /__emulator/faults API.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmulatorHandle, LoggedRequest, emulatorFor, mutating, ApiDeployment } from '../helpers/emulator';
import { writeWithMenderArtifact } from '../helpers/mender-artifact-tool';
import type * as pulumi from '@pulumi/pulumi';
import { configure } from '../../provider/settings';
import { imageRelease as imageReleaseProvider } from '../../provider/image-release';
import { deploymentName, menderDeployment as menderDeploymentProvider, policyOf } from '../../provider/mender-deployment';
import { deviceConfiguration as deviceConfigurationProvider } from '../../provider/device-configuration';
import { PartialFailure } from '../../provider/protocol';
import type {
  DeviceConfigurationInputs,
  DeviceConfigurationOutputs,
  ImageReleaseInputs,
  MenderDeploymentInputs,
  MenderDeploymentOutputs,
} from '../../provider/types';

const TOKEN = 'provider-test-token-4c1e7a';
const PI4 = 'raspberrypi4';
const DEV = Array.from({ length: 6 }, (_, i) => `0000000${i + 1}-aaaa-4bbb-8ccc-dddddddddddd`);
const [D1, D2, D3, D4, D5] = DEV;
const CREATE_DEPLOYMENT = '/api/management/v1/deployments/deployments';
const ROLLOUT = { timeoutSeconds: 20, pollSeconds: 0.05 };

const world = {
  artifacts: [
    { name: 'os-1.0', device_types: [PI4] },
    { name: 'os-2.0', device_types: [PI4] },
  ],
  devices: DEV.map((id) => ({ id, device_type: PI4, artifact_name: 'os-1.0' })),
  tokens: [TOKEN],
  users: [],
};

interface ApiDeploymentDevice {
  id: string;
  status: string;
}
interface ApiArtifact {
  id: string;
  name: string;
}

/** A provider with every method present and the outputs a create or update must return. */
interface Provider<I, O> {
  check(olds: I, news: I): Promise<pulumi.dynamic.CheckResult<I>>;
  diff(id: string, olds: O, news: I): Promise<pulumi.dynamic.DiffResult>;
  create(inputs: I): Promise<{ id: string; outs: O }>;
  read(id: string, props: O): Promise<pulumi.dynamic.ReadResult<O>>;
  update(id: string, olds: O, news: I): Promise<{ outs: O }>;
  delete(id: string, props: O): Promise<void>;
}

function strict<I, O>(p: pulumi.dynamic.ResourceProvider<I, O>): Provider<I, O> {
  const outputs = (outs: O | undefined): O => {
    if (outs === undefined) throw new Error('the provider returned no outputs');
    return outs;
  };
  return {
    check: (olds, news) => p.check!(olds, news),
    diff: (id, olds, news) => p.diff!(id, olds, news),
    create: async (inputs) => {
      const { id, outs } = await p.create(inputs);
      return { id, outs: outputs(outs) };
    },
    read: (id, props) => p.read!(id, props),
    update: async (id, olds, news) => ({ outs: outputs((await p.update!(id, olds, news)).outs) }),
    delete: (id, props) => p.delete!(id, props),
  };
}

const imageRelease = strict(imageReleaseProvider);
const menderDeployment = strict(menderDeploymentProvider);
const deviceConfiguration = strict(deviceConfigurationProvider);

let emu: EmulatorHandle;
let tmpDir: string;

beforeAll(() => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-provider-'));
});
afterAll(() => {
  fs.rmSync(tmpDir, { recursive: true, force: true });
});

// A fresh server per test: every assertion on the request log and the server's state is about
// that test alone.
beforeEach(async () => {
  emu = await emulatorFor(world, TOKEN);
  configure({ serverUrl: emu.emulator.url, token: TOKEN });
});
afterEach(async () => {
  await emu.emulator.close();
});

// ----------------------------------------------------------------------------- helpers

async function checkedImage(raw: ImageReleaseInputs): Promise<ImageReleaseInputs> {
  const { inputs, failures } = await imageRelease.check({} as ImageReleaseInputs, raw);
  expect(failures ?? []).toEqual([]);
  return inputs!;
}

async function checkedDeployment(raw: MenderDeploymentInputs): Promise<MenderDeploymentInputs> {
  const { inputs, failures } = await menderDeployment.check({} as MenderDeploymentInputs, raw);
  expect(failures ?? []).toEqual([]);
  return inputs!;
}

async function checkedConfiguration(raw: DeviceConfigurationInputs): Promise<DeviceConfigurationInputs> {
  const { inputs, failures } = await deviceConfiguration.check({} as DeviceConfigurationInputs, raw);
  expect(failures ?? []).toEqual([]);
  return inputs!;
}

function deploymentInputs(devices: string[], extra: Partial<MenderDeploymentInputs> = {}): MenderDeploymentInputs {
  return { artifactName: 'os-2.0', devices, namePrefix: 'canary', rollout: ROLLOUT, ...extra };
}

async function runningImage(id: string): Promise<string> {
  const device = await emu.api<{ attributes: { name: string; value: string; scope: string }[] }>('GET', `/api/management/v1/inventory/devices/${id}`);
  return device.attributes.find((a) => a.name === 'artifact_name' && a.scope === 'inventory')!.value;
}

async function softwareDeployments(): Promise<ApiDeployment[]> {
  const all = await emu.api<ApiDeployment[]>('GET', '/api/management/v1/deployments/deployments?per_page=500');
  return all.filter((d) => d.type !== 'configuration');
}

async function deploymentDevices(id: string): Promise<ApiDeploymentDevice[]> {
  return emu.api<ApiDeploymentDevice[]>('GET', `/api/management/v1/deployments/deployments/${id}/devices/list?per_page=500`);
}

const deploymentCreations = (log: LoggedRequest[]) => log.filter((r) => r.method === 'POST' && r.path === CREATE_DEPLOYMENT);

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A rootfs-image artifact written by Mender's own mender-artifact. */
async function artifactFile(name: string, content: string): Promise<string> {
  return writeWithMenderArtifact({ name, deviceTypes: [PI4], kind: { type: 'rootfs-image', content: Buffer.from(content) } }, fs.mkdtempSync(path.join(tmpDir, 'artifact-')));
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

// ----------------------------------------------------------------------------- ImageRelease

describe('ImageRelease', () => {
  it('adopts an artifact already on the server, after checking its device types', async () => {
    const inputs = await checkedImage({ artifactName: 'os-2.0', deviceTypes: [PI4, PI4] });
    expect(inputs.deviceTypes).toEqual([PI4]);
    await emu.clearRequests();
    const { id, outs } = await imageRelease.create(inputs);
    expect(id).toBe('os-2.0');
    const onServer = (await emu.api<ApiArtifact[]>('GET', '/api/management/v1/deployments/artifacts')).filter((a) => a.name === 'os-2.0');
    expect(outs).toMatchObject({ artifactName: 'os-2.0', uploaded: false, compatibleDeviceTypes: [PI4], artifactIds: onServer.map((a) => a.id) });
    expect(outs.size).toBeGreaterThan(0);
    expect(mutating(await emu.requests())).toEqual([]);
  });

  it('uploads a real .mender file when the server lacks the artifact', async () => {
    const content = 'a root filesystem image, version 3.0\n'.repeat(50);
    const file = await artifactFile('os-3.0', content);
    const inputs = await checkedImage({ artifactName: 'os-3.0', deviceTypes: [PI4], file });
    await emu.clearRequests();
    const { id, outs } = await imageRelease.create(inputs);
    expect(id).toBe('os-3.0');
    expect(outs.uploaded).toBe(true);
    expect(outs.compatibleDeviceTypes).toEqual([PI4]);
    expect(outs.checksum).toBe(createHash('sha256').update(content).digest('hex'));
    expect(outs.artifactIds).toHaveLength(1);
    const uploads = mutating(await emu.requests());
    expect(uploads).toEqual([expect.objectContaining({ method: 'POST', path: '/api/management/v1/deployments/artifacts', status: 201 })]);
    const artifact = await emu.api<ApiArtifact>('GET', `/api/management/v1/deployments/artifacts/${outs.artifactIds[0]}`);
    expect(artifact.name).toBe('os-3.0');

    // Created again (a retried create), it adopts what it uploaded.
    await emu.clearRequests();
    const again = await imageRelease.create(inputs);
    expect(again.outs.artifactIds).toEqual(outs.artifactIds);
    expect(mutating(await emu.requests())).toEqual([]);
  });

  it('fails check at preview time for a missing artifact without a file, naming artifact and server', async () => {
    await emu.clearRequests();
    const { failures } = await imageRelease.check({} as ImageReleaseInputs, { artifactName: 'os-9.9', deviceTypes: [PI4] });
    expect(failures).toHaveLength(1);
    expect(failures![0].property).toBe('artifactName');
    expect(failures![0].reason).toContain('os-9.9');
    expect(failures![0].reason).toContain(emu.emulator.url);
    expect(failures![0].reason).not.toContain(TOKEN);
    expect(mutating(await emu.requests())).toEqual([]);
  });

  it('fails check for a device type the artifact does not support', async () => {
    const { failures } = await imageRelease.check({} as ImageReleaseInputs, { artifactName: 'os-2.0', deviceTypes: [PI4, 'beaglebone'] });
    expect(failures).toEqual([expect.objectContaining({ property: 'deviceTypes' })]);
    expect(failures![0].reason).toMatch(/os-2\.0.*beaglebone/);
  });

  it('fails check for a file that does not exist', async () => {
    const { failures } = await imageRelease.check({} as ImageReleaseInputs, { artifactName: 'os-9.9', deviceTypes: [PI4], file: path.join(tmpDir, 'absent.mender') });
    expect(failures).toEqual([expect.objectContaining({ property: 'file' })]);
  });

  it('read notices an artifact deleted on the server', async () => {
    const { id, outs } = await imageRelease.create(await checkedImage({ artifactName: 'os-2.0', deviceTypes: [PI4] }));
    const before = await imageRelease.read(id, outs);
    expect(before.id).toBe('os-2.0');
    expect(before.props?.artifactIds).toEqual(outs.artifactIds);

    await emu.api('DELETE', `/api/management/v1/deployments/artifacts/${outs.artifactIds[0]}`);
    const after = await imageRelease.read(id, outs);
    expect(after.id).toBeFalsy();
    expect(after.props).toBeUndefined();
  });

  it('delete leaves the artifact on the server unless removeOnDelete', async () => {
    const kept = await imageRelease.create(await checkedImage({ artifactName: 'os-2.0', deviceTypes: [PI4] }));
    await emu.clearRequests();
    await imageRelease.delete(kept.id, kept.outs);
    expect(mutating(await emu.requests())).toEqual([]);
    await emu.api('GET', `/api/management/v1/deployments/artifacts/${kept.outs.artifactIds[0]}`);

    const removed = await imageRelease.create(await checkedImage({ artifactName: 'os-1.0', deviceTypes: [PI4], removeOnDelete: true }));
    await imageRelease.delete(removed.id, removed.outs);
    await expect(emu.api('GET', `/api/management/v1/deployments/artifacts/${removed.outs.artifactIds[0]}`)).rejects.toThrow(/404/);
    // Deleting again (the artifact is already gone) is not an error.
    await imageRelease.delete(removed.id, removed.outs);
  });

  it('diff replaces on a new artifact name and updates on changed device types', async () => {
    const { outs } = await imageRelease.create(await checkedImage({ artifactName: 'os-2.0', deviceTypes: [PI4] }));
    expect(await imageRelease.diff('os-2.0', outs, { artifactName: 'os-2.0', deviceTypes: [PI4] })).toMatchObject({ changes: false, replaces: [] });
    expect(await imageRelease.diff('os-2.0', outs, { artifactName: 'os-1.0', deviceTypes: [PI4] })).toMatchObject({ changes: true, replaces: ['artifactName'] });
    expect(await imageRelease.diff('os-2.0', outs, { artifactName: 'os-2.0', deviceTypes: [] })).toMatchObject({ changes: true, replaces: [] });
  });
});

// ----------------------------------------------------------------------------- MenderDeployment

describe('MenderDeployment', () => {
  it('does not care about device order: check sorts, diff sees no change', async () => {
    const a = await checkedDeployment(deploymentInputs([D3, D1, D2, D1]));
    const b = await checkedDeployment(deploymentInputs([D2, D3, D1]));
    expect(a.devices).toEqual([D1, D2, D3]);
    expect(b).toEqual(a);
    const { outs } = await menderDeployment.create(a);
    expect(await menderDeployment.diff(outs.deploymentId, outs, b)).toMatchObject({ changes: false });
    expect(deploymentName('canary', 'os-2.0', [D3, D1, D2])).toBe(deploymentName('canary', 'os-2.0', [D1, D2, D3]));
  });

  it('rejects an empty device set and a ratio outside [0, 1]', async () => {
    const { failures } = await menderDeployment.check({} as MenderDeploymentInputs, deploymentInputs([], { rollout: { maxFailureRatio: 2 } }));
    expect(failures!.map((f) => f.property).sort()).toEqual(['devices', 'rollout']);
  });

  it('creates exactly one Mender deployment with the deterministic name and waits until the devices run the artifact', async () => {
    const inputs = await checkedDeployment(deploymentInputs([D2, D1, D3]));
    await emu.clearRequests();
    const { id, outs } = await menderDeployment.create(inputs);
    expect(deploymentCreations(mutating(await emu.requests()))).toHaveLength(1);
    const deployments = await softwareDeployments();
    expect(deployments).toHaveLength(1);
    expect(deployments[0]).toMatchObject({ id, name: deploymentName('canary', 'os-2.0', [D1, D2, D3]), artifact_name: 'os-2.0', status: 'finished' });
    expect(outs).toMatchObject({ deploymentId: id, deploymentIds: [id], status: 'finished', failedDevices: [], outOfSync: [], devices: [D1, D2, D3] });
    expect(outs.statistics.success).toBe(3);
    for (const device of [D1, D2, D3]) expect(await runningImage(device)).toBe('os-2.0');
    expect(await runningImage(D4)).toBe('os-1.0');
  });

  it('a retried create adopts the deployment it made instead of making a second one', async () => {
    const inputs = await checkedDeployment(deploymentInputs([D1, D2]));
    const first = await menderDeployment.create(inputs);
    await emu.clearRequests();
    const second = await menderDeployment.create(inputs);
    expect(second.id).toBe(first.id);
    expect(deploymentCreations(await emu.requests())).toEqual([]);
    expect(await softwareDeployments()).toHaveLength(1);
  });

  it('a create after a crash that followed the POST adopts the running deployment', async () => {
    const inputs = await checkedDeployment(deploymentInputs([D1, D2]));
    // The devices are offline, so the deployment made "before the crash" is still pending.
    for (const device of [D1, D2]) await emu.admin('POST', `/devices/${device}/behavior`, { offline: true });
    await emu.api('POST', CREATE_DEPLOYMENT, { name: deploymentName('canary', 'os-2.0', [D1, D2]), artifact_name: 'os-2.0', devices: [D1, D2], force_installation: false });
    const [made] = await softwareDeployments();
    await emu.clearRequests();
    const creating = menderDeployment.create(inputs);
    await until('the provider to watch the deployment', async () => (await emu.requests()).some((r) => r.path.endsWith(`/${made.id}/statistics`)));
    for (const device of [D1, D2]) await emu.admin('POST', `/devices/${device}/behavior`, {});
    const { id, outs } = await creating;
    expect(id).toBe(made.id);
    expect(outs.status).toBe('finished');
    // Adopted: nothing created, and its own devices' pending work was not aborted.
    expect(mutating(await emu.requests())).toEqual([]);
    expect(await softwareDeployments()).toHaveLength(1);
    for (const device of [D1, D2]) expect(await runningImage(device)).toBe('os-2.0');
  });

  it('aborts pending deployments of those devices elsewhere first', async () => {
    await emu.admin('POST', `/devices/${D1}/behavior`, { offline: true });
    await emu.api('POST', CREATE_DEPLOYMENT, { name: 'by-hand', artifact_name: 'os-1.0', devices: [D1, D5] });
    const byHand = (await softwareDeployments()).find((d) => d.name === 'by-hand')!;
    // D5 has a device deployment only once it has polled (mender-server makes it then).
    await until('D5 to finish the manual deployment', async () => {
      const status = (await deploymentDevices(byHand.id)).find((d) => d.id === D5)?.status;
      return status !== undefined && status !== 'pending';
    });

    await emu.clearRequests();
    const creating = menderDeployment.create(await checkedDeployment(deploymentInputs([D1, D2])));
    await until('the deployment to be created', async () => deploymentCreations(await emu.requests()).length > 0);
    await emu.admin('POST', `/devices/${D1}/behavior`, {});
    const { outs } = await creating;

    const log = mutating(await emu.requests());
    const abort = log.findIndex((r) => r.method === 'DELETE' && r.path === `/api/management/v1/deployments/deployments/devices/${D1}`);
    expect(abort).toBeGreaterThanOrEqual(0);
    expect(abort).toBeLessThan(log.findIndex((r) => r.method === 'POST' && r.path === CREATE_DEPLOYMENT));
    // D2 had nothing pending elsewhere: left alone.
    expect(log.filter((r) => r.method === 'DELETE')).toHaveLength(1);
    expect((await deploymentDevices(byHand.id)).find((d) => d.id === D1)!.status).toBe('aborted');
    expect(outs.status).toBe('finished');
    expect(await runningImage(D1)).toBe('os-2.0');
  });

  it('aborts the deployment when devices fail beyond maxFailureRatio, naming the failed devices', async () => {
    await emu.admin('POST', `/devices/${D2}/behavior`, { fail_install: ['os-2.0'] });
    // D3 never polls: the deployment cannot finish by itself, only the abort ends it.
    await emu.admin('POST', `/devices/${D3}/behavior`, { offline: true });
    const inputs = await checkedDeployment(deploymentInputs([D1, D2, D3], { rollout: { ...ROLLOUT, maxFailureRatio: 0.2 } }));
    const error = await rejection(menderDeployment.create(inputs));
    expect(error.message).toContain('os-2.0');
    // The gate: D2 failed of those judged (D3 never polls, so it is not judged yet) is above 20 %.
    expect(error.message).toMatch(new RegExp(`1 failed of [12] judged \\((50|100) %, limit 20 %\\); failed: ${D2}\\.`));
    expect(error.message).toContain('Its unfinished deployments were aborted');
    expect(error.message).not.toContain(D1);
    expect(error).toBeInstanceOf(PartialFailure);
    const recorded = (error as PartialFailure<MenderDeploymentOutputs>).properties;
    expect(recorded).toMatchObject({ failedDevices: [D2], status: 'aborted', progress: { phase: 'stopped' } });

    const [deployment] = await softwareDeployments();
    expect(deployment.status).toBe('finished');
    expect((await emu.requests()).some((r) => r.method === 'PUT' && r.path === `${CREATE_DEPLOYMENT}/${deployment.id}/status` && r.status === 204)).toBe(true);
    const devices = Object.fromEntries((await deploymentDevices(deployment.id)).map((d) => [d.id, d.status]));
    expect(devices[D2]).toBe('failure');
    // D3 never polled, so it never had a record (mender-server makes it at the poll), and the
    // abort counts it nowhere.
    expect(devices).not.toHaveProperty(D3);
    expect(await runningImage(D3)).toBe('os-1.0');
    expect(await runningImage(D2)).toBe('os-1.0');
  });

  it('succeeds with the failed devices listed when failures stay within the limit', async () => {
    await emu.admin('POST', `/devices/${D2}/behavior`, { fail_install: ['os-2.0'] });
    // Judged over all four (minDevicesJudged), one failure is 25 %: within the limit.
    const policy = { ...policyOf(deploymentInputs([D1])), maxFailurePercent: 25, minDevicesJudged: 4 };
    const inputs = await checkedDeployment(deploymentInputs([D1, D2, D3, D4], { rollout: ROLLOUT, policy }));
    const { outs } = await menderDeployment.create(inputs);
    expect(outs.status).toBe('finished');
    expect(outs.failedDevices).toEqual([D2]);
    expect(outs.statistics).toMatchObject({ success: 3, failure: 1 });
    expect(await runningImage(D1)).toBe('os-2.0');
    expect(await runningImage(D2)).toBe('os-1.0');
  });

  it('update deploys only to added devices and aborts the removed devices’ pending deployments', async () => {
    await emu.admin('POST', `/devices/${D3}/behavior`, { offline: true });
    const created = await menderDeployment.create(await checkedDeployment(deploymentInputs([D1, D2, D3], { rollout: { ...ROLLOUT, waitForCompletion: false } })));
    await until('D1 and D2 to run os-2.0', async () => (await runningImage(D1)) === 'os-2.0' && (await runningImage(D2)) === 'os-2.0');
    const news = await checkedDeployment(deploymentInputs([D4, D1, D2]));
    expect(await menderDeployment.diff(created.id, created.outs, news)).toMatchObject({ changes: true });
    expect((await menderDeployment.diff(created.id, created.outs, news)).replaces ?? []).toEqual([]);

    await emu.clearRequests();
    const { outs } = await menderDeployment.update(created.id, created.outs, news);
    const log = mutating(await emu.requests());
    // The first deployment still lists D3, which left the set: it is aborted as a whole (a
    // per-device DELETE would also hit a newer deployment of D3's, see the emulator tests), and
    // the devices that still need the image are deployed to again: only D4 (D1 and D2 run it).
    expect(log.filter((r) => r.method === 'DELETE')).toEqual([]);
    expect(log.filter((r) => r.method === 'PUT').map((r) => r.path)).toEqual([`${CREATE_DEPLOYMENT}/${created.id}/status`]);
    expect(deploymentCreations(log)).toHaveLength(1);
    expect(outs.deploymentIds).toEqual([created.id, outs.deploymentId]);
    expect((await deploymentDevices(outs.deploymentId)).map((d) => d.id)).toEqual([D4]);
    expect((await softwareDeployments()).find((d) => d.id === created.id)!.status).toBe('finished');
    expect(outs.devices).toEqual([D1, D2, D4]);
    expect(await runningImage(D4)).toBe('os-2.0');
    expect(await runningImage(D3)).toBe('os-1.0');
  });

  it('read reports a reflashed device as out of sync and update redeploys only that device', async () => {
    const inputs = await checkedDeployment(deploymentInputs([D1, D2, D3]));
    const created = await menderDeployment.create(inputs);
    expect((await menderDeployment.read(created.id, created.outs)).props?.outOfSync).toEqual([]);

    await emu.admin('POST', `/devices/${D2}/inventory`, { artifact_name: 'os-1.0', 'rootfs-image.version': 'os-1.0' });
    await emu.clearRequests();
    const read = await menderDeployment.read(created.id, created.outs);
    expect(mutating(await emu.requests())).toEqual([]);
    expect(read.id).toBe(created.id);
    const refreshed = read.props as MenderDeploymentOutputs;
    expect(refreshed.outOfSync).toEqual([D2]);
    expect(await menderDeployment.diff(created.id, refreshed, inputs)).toMatchObject({ changes: true });

    await emu.clearRequests();
    const { outs } = await menderDeployment.update(created.id, refreshed, inputs);
    expect(deploymentCreations(mutating(await emu.requests()))).toHaveLength(1);
    expect((await deploymentDevices(outs.deploymentId)).map((d) => d.id)).toEqual([D2]);
    expect(outs.outOfSync).toEqual([]);
    expect(await runningImage(D2)).toBe('os-2.0');
    expect((await menderDeployment.read(created.id, outs)).props?.outOfSync).toEqual([]);
  });

  it('replaces on a changed artifact', async () => {
    const { id, outs } = await menderDeployment.create(await checkedDeployment(deploymentInputs([D1])));
    const diff = await menderDeployment.diff(id, outs, await checkedDeployment(deploymentInputs([D1], { artifactName: 'os-1.0' })));
    expect(diff).toMatchObject({ changes: true, replaces: ['artifactName'] });
  });

  it('delete aborts a deployment still under way and leaves a finished one', async () => {
    const done = await menderDeployment.create(await checkedDeployment(deploymentInputs([D1])));
    await emu.clearRequests();
    await menderDeployment.delete(done.id, done.outs);
    expect(mutating(await emu.requests())).toEqual([]);

    await emu.admin('POST', `/devices/${D2}/behavior`, { offline: true });
    const pending = await menderDeployment.create(await checkedDeployment(deploymentInputs([D2], { rollout: { ...ROLLOUT, waitForCompletion: false } })));
    expect(pending.outs.status).toBe('inprogress');
    await menderDeployment.delete(pending.id, pending.outs);
    const aborted = (await softwareDeployments()).find((d) => d.id === pending.id)!;
    expect(aborted.status).toBe('finished');
    expect(aborted.statistics?.status).toMatchObject({ pending: 0 });
  });
});

// ----------------------------------------------------------------------------- DeviceConfiguration

describe('DeviceConfiguration', () => {
  const config = (extra: Partial<DeviceConfigurationInputs> = {}): DeviceConfigurationInputs => ({
    deviceId: D1,
    values: { kiosk_url: 'https://example.org' },
    secretValues: { runner_token: 'secret-91af' },
    timeoutSeconds: 10,
    ...extra,
  });
  const onServer = (id: string) =>
    emu.api<{ configured: Record<string, string>; reported: Record<string, string>; deployment_id?: string }>('GET', `/api/management/v1/deviceconfig/configurations/device/${id}`);

  it('create sets the configuration, deploys it and waits until the device reports it', async () => {
    await emu.clearRequests();
    const { id, outs } = await deviceConfiguration.create(await checkedConfiguration(config()));
    expect(id).toBe(D1);
    const state = await onServer(D1);
    const want = { kiosk_url: 'https://example.org', runner_token: 'secret-91af' };
    expect(state.configured).toEqual(want);
    expect(state.reported).toEqual(want);
    expect(outs).toMatchObject({ inSync: true, driftedKeys: [], deploymentId: state.deployment_id });
    expect(mutating(await emu.requests()).map((r) => `${r.method} ${r.path}`)).toEqual([
      `PUT /api/management/v1/deviceconfig/configurations/device/${D1}`,
      `POST /api/management/v1/deviceconfig/configurations/device/${D1}/deploy`,
    ]);
  });

  it('check rejects a key that is both plain and secret', async () => {
    const { failures } = await deviceConfiguration.check({} as DeviceConfigurationInputs, config({ secretValues: { kiosk_url: 'x' } }));
    expect(failures).toEqual([expect.objectContaining({ property: 'secretValues' })]);
  });

  it('fails when the device rejects the configuration, naming the device and not the values', async () => {
    await emu.admin('POST', `/devices/${D1}/behavior`, { reject_config: true });
    const error = await rejection(deviceConfiguration.create(await checkedConfiguration(config())));
    expect(error.message).toContain(D1);
    expect(error.message).toMatch(/failed to apply/);
    expect(error.message).not.toContain('secret-91af');
  });

  it('read reports the keys someone changed on the server, and update puts them back', async () => {
    const inputs = await checkedConfiguration(config());
    const created = await deviceConfiguration.create(inputs);
    expect((await deviceConfiguration.read(created.id, created.outs)).props).toMatchObject({ inSync: true, driftedKeys: [] });

    await emu.api('PUT', `/api/management/v1/deviceconfig/configurations/device/${D1}`, { kiosk_url: 'https://elsewhere.example', runner_token: 'secret-91af' });
    const read = await deviceConfiguration.read(created.id, created.outs);
    const refreshed = read.props as DeviceConfigurationOutputs;
    expect(refreshed).toMatchObject({ inSync: false, driftedKeys: ['kiosk_url'] });
    expect(JSON.stringify(refreshed.driftedKeys)).not.toContain('elsewhere');
    expect(await deviceConfiguration.diff(created.id, refreshed, inputs)).toMatchObject({ changes: true });

    const { outs } = await deviceConfiguration.update(created.id, refreshed, inputs);
    expect(outs).toMatchObject({ inSync: true, driftedKeys: [] });
    const state = await onServer(D1);
    expect(state.configured.kiosk_url).toBe('https://example.org');
    expect(state.reported.kiosk_url).toBe('https://example.org');
  });

  it('update without a change sends nothing', async () => {
    const inputs = await checkedConfiguration(config());
    const created = await deviceConfiguration.create(inputs);
    expect(await deviceConfiguration.diff(created.id, created.outs, inputs)).toMatchObject({ changes: false });
    await emu.clearRequests();
    await deviceConfiguration.update(created.id, created.outs, inputs);
    expect(mutating(await emu.requests())).toEqual([]);
  });

  it('delete leaves the configuration unless clearOnDelete', async () => {
    const kept = await deviceConfiguration.create(await checkedConfiguration(config()));
    await emu.clearRequests();
    await deviceConfiguration.delete(kept.id, kept.outs);
    expect(mutating(await emu.requests())).toEqual([]);
    expect((await onServer(D1)).configured).toEqual({ kiosk_url: 'https://example.org', runner_token: 'secret-91af' });

    const cleared = await deviceConfiguration.create(await checkedConfiguration(config({ deviceId: D2, clearOnDelete: true })));
    await emu.clearRequests();
    await deviceConfiguration.delete(cleared.id, cleared.outs);
    expect(mutating(await emu.requests()).map((r) => `${r.method} ${r.path}`)).toEqual([
      `PUT /api/management/v1/deviceconfig/configurations/device/${D2}`,
      `POST /api/management/v1/deviceconfig/configurations/device/${D2}/deploy`,
    ]);
    expect((await onServer(D2)).configured).toEqual({});
    // The device applies the empty configuration too.
    await until('the device to report the cleared configuration', async () => Object.keys((await onServer(D2)).reported).length === 0);
  });
});

// ----------------------------------------------------------------------------- faults

describe('faults during a create', () => {
  it('retries a 429 on a read and honours its Retry-After', async () => {
    const inputs = await checkedDeployment(deploymentInputs([D1, D2]));
    await emu.admin('POST', '/faults', { method: 'GET', path: '/devices/list$', count: 1, status: 429, retry_after: 1 });
    await emu.clearRequests();
    const started = Date.now();
    const { outs } = await menderDeployment.create(inputs);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(outs.status).toBe('finished');
    const statistics = (await emu.requests()).filter((r) => r.path.endsWith('/devices/list')) as (LoggedRequest & { time: string })[];
    expect(statistics[0].status).toBe(429);
    expect(statistics[1].status).toBe(200);
    expect(Date.parse(statistics[1].time) - Date.parse(statistics[0].time)).toBeGreaterThanOrEqual(950);
    expect(await softwareDeployments()).toHaveLength(1);
  });

  it('rides out a burst of 503 on GETs', async () => {
    const inputs = await checkedDeployment(deploymentInputs([D1, D2]));
    await emu.admin('POST', '/faults', { method: 'GET', path: '^/api/management/', count: 3, status: 503 });
    await emu.clearRequests();
    const { outs } = await menderDeployment.create(inputs);
    const log = await emu.requests();
    expect(log.filter((r) => r.status === 503)).toHaveLength(3);
    expect(deploymentCreations(log)).toHaveLength(1);
    expect(outs.status).toBe('finished');
    for (const device of [D1, D2]) expect(await runningImage(device)).toBe('os-2.0');
  });

  it('ends with exactly one deployment after a connection reset in the middle of a create', async () => {
    const inputs = await checkedDeployment(deploymentInputs([D1, D2, D3]));
    const name = deploymentName('canary', 'os-2.0', [D1, D2, D3]);
    await emu.admin('POST', '/faults', { method: 'POST', path: '^/api/management/v1/deployments/deployments$', count: 1, reset: true });
    // The POST is not repeated by the client (it may have been acted on): the create fails.
    await expect(menderDeployment.create(inputs)).rejects.toThrow(/may or may not have reached the server/);
    // The emulator drops the connection before handling the request: nothing was created.
    expect((await softwareDeployments()).filter((d) => d.name === name)).toHaveLength(0);

    const { id } = await menderDeployment.create(inputs);
    const made = (await softwareDeployments()).filter((d) => d.name === name && d.artifact_name === 'os-2.0');
    expect(made.map((d) => d.id)).toEqual([id]);
    for (const device of [D1, D2, D3]) expect(await runningImage(device)).toBe('os-2.0');

    // A third create (the engine retrying once more) adopts it too.
    expect((await menderDeployment.create(inputs)).id).toBe(id);
    expect(await softwareDeployments()).toHaveLength(1);
  });

  it('ends with exactly one deployment when the connection dropped after the server made it', async () => {
    const inputs = await checkedDeployment(deploymentInputs([D1, D2]));
    // The create's response lost on the way back: the server holds the deployment, the
    // provider never learnt its id. Stand in for it by making it with the provider's name.
    await emu.api('POST', CREATE_DEPLOYMENT, { name: deploymentName('canary', 'os-2.0', [D1, D2]), artifact_name: 'os-2.0', devices: [D1, D2], force_installation: false });
    await emu.admin('POST', '/faults', { method: 'POST', path: '^/api/management/v1/deployments/deployments$', count: 1, reset: true });
    const { id } = await menderDeployment.create(inputs);
    const deployments = await softwareDeployments();
    expect(deployments.map((d) => d.id)).toEqual([id]);
    // The provider never tried to create another (the reset fault is still armed).
    expect((await emu.admin<unknown[]>('GET', '/faults'))).toHaveLength(1);
  });

  it('fails the create when the devices fail beyond the threshold under retried reads', async () => {
    for (const device of [D1, D2]) await emu.admin('POST', `/devices/${device}/behavior`, { fail_install: ['os-2.0'] });
    await emu.admin('POST', '/faults', { method: 'GET', path: '/devices/list$', count: 2, status: 503 });
    const inputs = await checkedDeployment(deploymentInputs([D1, D2, D3, D4], { rollout: { ...ROLLOUT, maxFailureRatio: 0.25 } }));
    const error = await rejection(menderDeployment.create(inputs));
    expect(error.message).toMatch(/aborted/);
    // Each failure is judged as it comes: the first already exceeds 25 % of those judged.
    const recorded = (error as PartialFailure<MenderDeploymentOutputs>).properties;
    expect(recorded.failedDevices.length).toBeGreaterThanOrEqual(1);
    expect(error.message).toMatch(/failed: 0000000[12]/);
    expect(await runningImage(D1)).toBe('os-1.0');
    expect(await runningImage(D2)).toBe('os-1.0');
  });
});
