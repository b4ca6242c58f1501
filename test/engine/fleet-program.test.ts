// The fleet program end to end: the example fleet (fleet/) against the emulator seeded with
// the demo's world, through the real engine. Preview and a second up send no mutating request;
// only the devices of the stack's ring are touched; a broken fleet stops before Mender.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseWorld } from '../../emulator';
import { EmulatorHandle, emulatorFor, mutating } from '../helpers/emulator';
import { pulumiWorkspace, PulumiWorkspace, repoRoot, fleetCli } from '../helpers/pulumi';
import { step } from '../helpers/step';
import { MenderClient } from '../../provider/mender';
import { runningImages } from '../../provider/mender/observed';

const TOKEN = 'demo-personal-access-token';
const world = parseWorld(fs.readFileSync(path.join(repoRoot, 'demo', 'world.yaml'), 'utf8'), 'demo/world.yaml');
const CANARY = ['048312b5-0456-47a7-9e83-b636f4c0a689', '3fb4632b-96b9-475d-ac89-02255bd15b6f', '50a28c2e-3ee8-4559-a5b9-3ce47c881c5d', '5ef8c955-4f87-4243-adcd-160f70c3c45e'];
const PRODUCTION = ['b8b311de-000e-4914-9a13-1d7e2e23bc5d', 'ed531b64-5108-4f1d-9879-f39f56054078', 'f4580afc-7195-4c8b-b35a-e0248e6bd894'];

/** The OS image of every device, as the project tells it (a configured device's artifact_name is its configuration's). */
async function running(emu: EmulatorHandle): Promise<Record<string, string | undefined>> {
  const client = new MenderClient({ serverUrl: emu.emulator.url, token: TOKEN });
  try {
    return Object.fromEntries(await runningImages(client, [...CANARY, ...PRODUCTION]));
  } finally {
    client.close();
  }
}

describe('the fleet program against the emulator', () => {
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let brokenFleet: string;
  const stackFiles = ['Pulumi.canary.yaml', 'Pulumi.production.yaml'].map((f) => [f, fs.readFileSync(path.join(repoRoot, f), 'utf8')] as const);

  beforeAll(async () => {
    emu = await emulatorFor(world, TOKEN);
    ws = pulumiWorkspace();
    // The stack files carry the salt of the local demo passphrase.
    Object.assign(ws.env, { PULUMI_CONFIG_PASSPHRASE: 'mender-fleet-local-demo', MENDER_SERVER_URL: emu.emulator.url, MENDER_ACCESS_TOKEN: TOKEN });
    await ws.ok(['stack', 'init', 'canary']);
    brokenFleet = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-broken-'));
    fs.cpSync(path.join(repoRoot, 'fleet'), brokenFleet, { recursive: true });
    const hostVars = path.join(brokenFleet, 'host_vars', '3fb4632b-96b9-475d-ac89-02255bd15b6f.yml');
    fs.writeFileSync(hostVars, fs.readFileSync(hostVars, 'utf8').replace('template: kiosk.json', 'template: kiosk.jsn'));
  });

  afterAll(async () => {
    await ws?.run(['stack', 'rm', 'canary', '--yes', '--force', '--preserve-config']);
    ws?.dispose();
    await emu?.emulator.close();
    if (brokenFleet) fs.rmSync(brokenFleet, { recursive: true, force: true });
  });

  // Apart from the scenario: the broken program stops before it registers a resource, so what
  // the stack holds does not matter, and a failed preview changes nothing.
  it('stops a broken fleet before anything reaches Mender, naming file and line', async () => {
    await emu.clearRequests();
    const result = await ws.run(['preview', '--stack', 'canary'], { env: { FLEET_PATH: brokenFleet } });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain(
      'host_vars/3fb4632b-96b9-475d-ac89-02255bd15b6f.yml:5: device 3fb4632b-96b9-475d-ac89-02255bd15b6f: template "kiosk.jsn" does not exist in templates/; did you mean "kiosk.json"?',
    );
    expect(await emu.requests()).toEqual([]);
  });

  it('the canary ring from preview to a second up', async () => {
    await step('previews the canary ring as a fleet plan without mutating anything', async () => {
      await emu.clearRequests();
      const { stdout } = await ws.ok(['preview', '--stack', 'canary']);
      for (const line of [
        'mender:ImageRelease 2026-11-20-iot-gate-imx8-bookworm-arm64-rc1 create',
        'mender:MenderDeployment 2026-11-02-pi4-bookworm-arm64 create',
        'mender:DeviceConfigurationSet pi4/kiosk.json create',
      ]) {
        expect(stdout).toContain(line);
      }
      expect(stdout).toMatch(/\+ 11 to create/);
      expect(mutating(await emu.requests())).toEqual([]);
    });
    await step('converges the canary devices and touches no production device', async () => {
      const before = await running(emu);
      await ws.ok(['up', '--yes', '--skip-preview', '--stack', 'canary']);
      const after = await running(emu);
      expect(Object.fromEntries(CANARY.map((id) => [id, after[id]]))).toEqual({
        '048312b5-0456-47a7-9e83-b636f4c0a689': '2026-11-02-pi2-bookworm-armhf',
        '3fb4632b-96b9-475d-ac89-02255bd15b6f': '2026-11-02-pi4-bookworm-arm64',
        '50a28c2e-3ee8-4559-a5b9-3ce47c881c5d': '2026-11-02-pi3-bookworm-arm64',
        '5ef8c955-4f87-4243-adcd-160f70c3c45e': '2026-11-20-iot-gate-imx8-bookworm-arm64-rc1',
      });
      for (const id of PRODUCTION) expect(after[id]).toBe(before[id]);

      const deployments = await emu.api<{ id: string; type?: string }[]>('GET', '/api/management/v2/deployments/deployments?per_page=100');
      const targeted = new Set<string>();
      for (const d of deployments) {
        for (const device of await emu.api<{ id: string }[]>('GET', `/api/management/v1/deployments/deployments/${d.id}/devices/list?per_page=100`)) targeted.add(device.id);
      }
      expect([...targeted].sort()).toEqual(CANARY);

      // A secret only so that previews do not print a line per device.
      expect(JSON.parse((await ws.ok(['stack', 'output', 'devices', '--json', '--stack', 'canary'])).stdout)).toBe('[secret]');
      const outputs = JSON.parse((await ws.ok(['stack', 'output', 'devices', '--json', '--show-secrets', '--stack', 'canary'])).stdout) as Record<string, { ring: string; ringSource: string }>;
      expect(Object.keys(outputs).sort()).toEqual(CANARY);
      expect(outputs['048312b5-0456-47a7-9e83-b636f4c0a689']).toMatchObject({ ring: 'canary', ringSource: 'device' });
    });
    await step('does nothing on a second up', async () => {
      await emu.clearRequests();
      const { stdout } = await ws.ok(['up', '--yes', '--skip-preview', '--stack', 'canary']);
      expect(stdout).toMatch(/11 unchanged/);
      expect(mutating(await emu.requests())).toEqual([]);
    });
    await step('a device reflashed outside Git: fleet plan says only up --refresh redeploys it; a plain up leaves it, up --refresh redeploys it', async () => {
      const device = '50a28c2e-3ee8-4559-a5b9-3ce47c881c5d';
      const image = (await running(emu))[device]!;
      await emu.admin('POST', `/devices/${device}/inventory`, { artifact_name: 'hand-flashed-1', 'rootfs-image.version': 'hand-flashed-1' });
      await emu.clearRequests();
      const plan = await fleetCli(['plan', '--stack', 'canary'], { ...process.env, ...ws.env });
      expect(plan.code).toBe(0);
      expect(plan.stdout).toContain(`  only with up --refresh: it (${image}): they run another image than the stack recorded at its last refresh, and a plain up leaves them\n`);
      expect(plan.stdout).toContain(`\nImage ${image}: 1 device gets it`);
      expect(mutating(await emu.requests())).toEqual([]);

      const plain = await ws.ok(['up', '--yes', '--skip-preview', '--stack', 'canary']);
      expect(plain.stdout).toMatch(/11 unchanged/);
      expect(mutating(await emu.requests())).toEqual([]);
      expect((await running(emu))[device]).toBe('hand-flashed-1');

      const refreshed = await ws.ok(['up', '--yes', '--skip-preview', '--refresh', '--stack', 'canary']);
      expect(refreshed.stdout).toMatch(/1 updated/);
      expect(mutating(await emu.requests()).filter((r) => r.method === 'POST' && r.path === '/api/management/v1/deployments/deployments')).toHaveLength(1);
      expect((await running(emu))[device]).toBe(image);
    });
    await step('leaves the tracked stack files as they were', () => {
      for (const [file, text] of stackFiles) expect(fs.readFileSync(path.join(repoRoot, file), 'utf8')).toBe(text);
    });
  }, 960_000);
});
