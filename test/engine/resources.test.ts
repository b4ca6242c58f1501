// The three resources through the real Pulumi engine against the emulator: what the engine
// itself adds to the provider protocol (test/protocol/resources.test.ts has every step of it).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmulatorHandle, emulatorFor } from '../helpers/emulator';
import { pulumiWorkspace, PulumiWorkspace, repoRoot, initResourcesStack } from '../helpers/pulumi';
import { RESOURCES, resourcesWorld } from '../helpers/scenario-worlds';
const program = path.join(repoRoot, 'test', 'fixtures', 'resources-program');
const stack = 'canary';
const TOKEN = 'engine-test-token-7f3a9c';
const SECRET = 'runner-secret-5e1d8b';
const { PI4_A, PI4_B, PI3 } = RESOURCES;
const world = resourcesWorld(TOKEN);

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

  // The provider protocol of each step (preview, up, a second up, refresh, an update) is in
  // test/protocol/resources.test.ts; what only the engine does stays here: its summary, and
  // encrypting the secret values and the token in the state.
  it("one up of the three resources: the engine's summary, and no secret or token in the output or the state", async () => {
    const { stdout } = await ws.ok(['up', '--yes', '--skip-preview', '--stack', stack], inProgram());
    expect(stdout).toMatch(/6 created/);
    expect(stdout).not.toContain(SECRET);
    expect(stdout).not.toContain(TOKEN);
    const configuration = await emu.api<{ reported: Record<string, string> }>('GET', `/api/management/v1/deviceconfig/configurations/device/${PI4_A}`);
    expect(configuration.reported).toEqual({ kiosk_url: 'https://example.org', runner_token: SECRET });
    const exported = await ws.ok(['stack', 'export', '--stack', stack], inProgram());
    expect(exported.stdout).not.toContain(SECRET);
    expect(exported.stdout).not.toContain(TOKEN);
    const outputs = await ws.ok(['stack', 'output', '--json', '--stack', stack], inProgram());
    expect(outputs.stdout).not.toContain(SECRET);
  }, 1_200_000);
});
