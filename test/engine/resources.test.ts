// The three resources through the real Pulumi engine against the emulator: preview changes
// nothing, up converges, a second up is a no-op, refresh finds a reflashed device and the next
// up fixes it, secrets never reach the state or the output.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmulatorHandle, emulatorFor, mutating } from '../helpers/emulator';
import { pulumiWorkspace, PulumiWorkspace, repoRoot, initResourcesStack } from '../helpers/pulumi';
import { step } from '../helpers/step';

import { DEFAULT_POLICY, RolloutPolicy as WavePolicy } from '../../provider/rollout/policy';
const program = path.join(repoRoot, 'test', 'fixtures', 'resources-program');
const stack = 'canary';
const TOKEN = 'engine-test-token-7f3a9c';
const SECRET = 'runner-secret-5e1d8b';
const PI4_A = '3fb4632b-96b9-475d-ac89-02255bd15b6f';
const PI4_B = 'b8b311de-000e-4914-9a13-1d7e2e23bc5d';
const PI3 = '50a28c2e-3ee8-4559-a5b9-3ce47c881c5d';

const world = {
  artifacts: [
    { name: 'pi4-2026.10', device_types: ['pi4-v3-arm64'] },
    { name: 'pi4-2026.11', device_types: ['pi4-v3-arm64'] },
    { name: 'pi3-2026.11', device_types: ['pi3-arm64'] },
  ],
  devices: [
    { id: PI4_A, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10' },
    { id: PI4_B, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10' },
    { id: PI3, device_type: 'pi3-arm64', artifact_name: 'pi3-2026.10' },
  ],
  tokens: [TOKEN],
  users: [],
};

const desired = {
  images: [
    { name: 'pi4-2026.11', deviceTypes: ['pi4-v3-arm64'] },
    { name: 'pi3-2026.11', deviceTypes: ['pi3-arm64'] },
  ],
  deployments: [
    { name: 'pi4-2026.11', artifactName: 'pi4-2026.11', devices: [PI4_B, PI4_A], rollout: { timeoutSeconds: 60, pollSeconds: 0.05 } },
    { name: 'pi3-2026.11', artifactName: 'pi3-2026.11', devices: [PI3], rollout: { timeoutSeconds: 60, pollSeconds: 0.05 } },
  ],
  configurations: [{ deviceId: PI4_A, values: { kiosk_url: 'https://example.org', runner_token: SECRET }, secretKeys: ['runner_token'] }],
};

/** The device's OS image as the project tells it (a configured device's artifact_name is its configuration's). */
async function runningImage(emu: EmulatorHandle, id: string): Promise<string | undefined> {
  return emu.osImage(id);
}

describe('ImageRelease, MenderDeployment and DeviceConfiguration through the engine', () => {
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let workDir: string;
  const inProgram = () => ({ cwd: program });

  beforeAll(async () => {
    emu = await emulatorFor(world, TOKEN);
    ws = pulumiWorkspace();
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-resources-'));
    fs.writeFileSync(path.join(workDir, 'desired.json'), JSON.stringify(desired));
    await initResourcesStack(ws, { stack, desiredFile: path.join(workDir, 'desired.json'), serverUrl: emu.emulator.url, token: TOKEN });
  });

  afterAll(async () => {
    await ws?.run(['stack', 'rm', stack, '--yes', '--force'], inProgram());
    ws?.dispose();
    await emu?.emulator.close();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('the three resources from preview to a redeployed reflashed device', async () => {
    await step('previews the plan without a single mutating request', async () => {
      await emu.clearRequests();
      const { stdout } = await ws.ok(['preview', '--stack', stack], inProgram());
      expect(stdout).toMatch(/\+ 6 to create/);
      expect(stdout).toContain('mender:MenderDeployment');
      expect(mutating(await emu.requests())).toEqual([]);
      expect(await runningImage(emu, PI4_A)).toBe('pi4-2026.10');
    });
    await step('converges the devices on up', async () => {
      const { stdout } = await ws.ok(['up', '--yes', '--stack', stack], inProgram());
      expect(stdout).toMatch(/6 created/);
      expect(await runningImage(emu, PI4_A)).toBe('pi4-2026.11');
      expect(await runningImage(emu, PI4_B)).toBe('pi4-2026.11');
      expect(await runningImage(emu, PI3)).toBe('pi3-2026.11');
      const configuration = await emu.api<{ reported: Record<string, string> }>('GET', `/api/management/v1/deviceconfig/configurations/device/${PI4_A}`);
      expect(configuration.reported).toEqual({ kiosk_url: 'https://example.org', runner_token: SECRET });
      const software = (await emu.api<{ name: string; type?: string }[]>('GET', '/api/management/v2/deployments/deployments?per_page=100')).filter((d) => d.type !== 'configuration');
      expect(software).toHaveLength(2);
      expect(stdout).not.toContain(SECRET);
      expect(stdout).not.toContain(TOKEN);
    });
    await step('does nothing on a second up: zero mutating requests', async () => {
      await emu.clearRequests();
      const { stdout } = await ws.ok(['up', '--yes', '--stack', stack], inProgram());
      expect(stdout).toMatch(/6 unchanged/);
      expect(mutating(await emu.requests())).toEqual([]);
    });
    await step('keeps secrets and the token out of the state', async () => {
      const exported = await ws.ok(['stack', 'export', '--stack', stack], inProgram());
      expect(exported.stdout).not.toContain(SECRET);
      expect(exported.stdout).not.toContain(TOKEN);
      const outputs = await ws.ok(['stack', 'output', '--json', '--stack', stack], inProgram());
      expect(outputs.stdout).not.toContain(SECRET);
    });
    await step('finds a reflashed device on refresh and redeploys it on the next up', async () => {
      await emu.admin('POST', `/devices/${PI4_B}/inventory`, { artifact_name: 'pi4-2026.10', 'rootfs-image.version': 'pi4-2026.10' });
      const refresh = await ws.ok(['refresh', '--yes', '--stack', stack, '--diff'], inProgram());
      expect(refresh.stdout).toContain(PI4_B);

      const preview = await ws.ok(['preview', '--stack', stack], inProgram());
      expect(preview.stdout).toMatch(/~ 1 to update/);

      await emu.clearRequests();
      const up = await ws.ok(['up', '--yes', '--stack', stack], inProgram());
      expect(up.stdout).toMatch(/1 updated/);
      expect(await runningImage(emu, PI4_B)).toBe('pi4-2026.11');
      const created = mutating(await emu.requests()).filter((r) => r.method === 'POST' && r.path === '/api/management/v1/deployments/deployments');
      expect(created).toHaveLength(1);
    });
  }, 1_200_000);
});

// A create that fails after its Mender deployment exists (here: the rollout outlasts its
// timeout) throws {id, properties, reasons}: the engine records the resource, and the next up
// updates it, adopting the deployment under way instead of making another.
describe('a MenderDeployment whose rollout outlasted the up', () => {
  const OFFLINE = '0c5a4c6e-3f70-4d8a-9c0b-6f4a2c1d7e90';
  const slowStack = 'production';
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let workDir: string;
  let slow: { images: unknown[]; deployments: { name: string; artifactName: string; devices: string[]; rollout: { pollSeconds: number }; policy: WavePolicy }[]; configurations: unknown[] };
  const inProgram = () => ({ cwd: program });
  const deploymentPosts = async () =>
    (await emu.requests()).filter((r) => r.method === 'POST' && r.path === '/api/management/v1/deployments/deployments');

  beforeAll(async () => {
    emu = await emulatorFor(
      { ...world, devices: [{ id: OFFLINE, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', behavior: { offline: true } }] },
      TOKEN,
    );
    ws = pulumiWorkspace();
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-init-error-'));
    slow = {
      images: [{ name: 'pi4-2026.11', deviceTypes: ['pi4-v3-arm64'] }],
      // The up waits 2 s; the device counts as timed out only after an hour.
      deployments: [{ name: 'pi4-2026.11', artifactName: 'pi4-2026.11', devices: [OFFLINE], rollout: { pollSeconds: 0.05 }, policy: { ...DEFAULT_POLICY, waitMinutes: 2 / 60, deviceTimeoutMinutes: 60 } }],
      configurations: [],
    };
    fs.writeFileSync(path.join(workDir, 'desired.json'), JSON.stringify(slow));
    await initResourcesStack(ws, { stack: slowStack, desiredFile: path.join(workDir, 'desired.json'), serverUrl: emu.emulator.url, token: TOKEN });
  });

  afterAll(async () => {
    await ws?.run(['stack', 'rm', slowStack, '--yes', '--force'], inProgram());
    ws?.dispose();
    await emu?.emulator.close();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('is recorded in the state as under way, and the next up continues from its deployment', async () => {
    // An unfinished rollout is not an error: the up returns once its wait is over.
    const first = await ws.ok(['up', '--yes', '--stack', slowStack], inProgram());
    expect(first.stdout).toContain('pi4-2026.11 in production: wave 1 of 1: 1 pending');
    expect(await deploymentPosts()).toHaveLength(1);
    const deploymentId = (await emu.api<{ id: string; name: string }[]>('GET', '/api/management/v2/deployments/deployments?per_page=100'))[0].id;

    const exported = JSON.parse((await ws.ok(['stack', 'export', '--stack', slowStack], inProgram())).stdout) as {
      deployment: { resources: { type: string; id?: string; initErrors?: string[]; outputs?: { deploymentIds?: string[] } }[] };
    };
    const recorded = exported.deployment.resources.find((r) => r.type.endsWith(':MenderDeployment'));
    expect(recorded).toMatchObject({ id: deploymentId, outputs: { deploymentIds: [deploymentId], status: 'inprogress', progress: { phase: 'waiting' } } });
    expect(recorded?.initErrors).toBeUndefined();

    // The device comes online; a longer wait lets the next up watch the rollout to its end.
    slow.deployments[0].policy.waitMinutes = 1;
    fs.writeFileSync(path.join(workDir, 'desired.json'), JSON.stringify(slow));
    await emu.admin('POST', `/devices/${OFFLINE}/behavior`, { offline: false });
    await emu.clearRequests();
    const again = await ws.ok(['up', '--yes', '--stack', slowStack], inProgram());
    expect(again.stdout).toMatch(/1 updated/);
    expect(await deploymentPosts()).toEqual([]);
    expect(await runningImage(emu, OFFLINE)).toBe('pi4-2026.11');
  });
});
