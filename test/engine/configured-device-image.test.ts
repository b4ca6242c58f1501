// A configured device keeps its OS image in the fleet's eyes after its configuration is applied.
// The real server names a configuration deployment `configuration-<deployment id>`
// (mender-server backend/services/workflows/worker/workflows/deploy_device_configuration.json)
// and serves an artifact of that name (backend/services/deployments/app/app.go,
// GenerateConfigurationImage), which clears only `data-partition.mender-configure.*`; the mender
// client commits that artifact_name and keeps its rootfs-image.version. The emulator's devices do
// the same. Through the real engine: `fleet status` converged, and `fleet plan` gives no device a
// new image. That a refresh finds the device in sync and a rollout-timeout change sends no
// software deployment is the provider protocol's: test/protocol/configured-device.test.ts.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmulatorHandle, emulatorFor, LoggedRequest } from '../helpers/emulator';
import { pulumiWorkspace, PulumiWorkspace, repoRoot, fleetCli } from '../helpers/pulumi';
import { step } from '../helpers/step';
import { CONFIGURED, configuredWorld } from '../helpers/scenario-worlds';

const TOKEN = 'configured-image-token-3e9a';
const { A, B, PI4 } = CONFIGURED;
const world = configuredWorld(TOKEN);

const kioskVars = (url: string) => ['configuration:', '  template: kiosk.json', '  parameters:', `    kiosk_url: ${url}`, ''].join('\n');
const fleetFiles: Record<string, string> = {
  'inventory.yml': ['all:', '  children:', '    pi4:', '      hosts:', `        ${A}:`, `        ${B}:`, ''].join('\n'),
  'group_vars/all.yml': ['subscribed_branch: canary', 'os_image:', `  - device_type: ${PI4}`, '    image_name: pi4-2026.11', ''].join('\n'),
  [`host_vars/${A}.yml`]: kioskVars('https://example.org/one'),
  'templates/kiosk.json': '{\n  "kiosk_url": "{{ kiosk_url }}"\n}\n',
};

const DEPLOYMENTS = '/api/management/v1/deployments/deployments';
/** Software deployments created in these requests (a configuration deployment goes through deviceconfig). */
const softwareDeploymentsCreated = (requests: LoggedRequest[]) => requests.filter((r) => r.method === 'POST' && r.path === DEPLOYMENTS);

describe('a configured device after its configuration deployment', () => {
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let work: string;
  let fleetDir: string;

  const configFile = (timeoutSeconds: number) => {
    const file = path.join(work, `Pulumi.canary.${timeoutSeconds}.yaml`);
    const salt = /^encryptionsalt: .*$/m.exec(fs.readFileSync(path.join(repoRoot, 'Pulumi.canary.yaml'), 'utf8'))![0];
    fs.writeFileSync(file, ['config:', '  fleet:branch: canary', '  fleet:pollMilliseconds: 100', `  fleet:rolloutTimeoutSeconds: ${timeoutSeconds}`, salt, ''].join('\n'));
    return file;
  };
  const inventoryOf = async (id: string) => {
    const device = await emu.api<{ attributes: { name: string; value: string; scope: string }[] }>('GET', `/api/management/v1/inventory/devices/${id}`);
    return Object.fromEntries(device.attributes.filter((a) => a.scope === 'inventory').map((a) => [a.name, a.value]));
  };

  beforeAll(async () => {
    emu = await emulatorFor(world, TOKEN);
    ws = pulumiWorkspace();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-configured-image-'));
    fleetDir = path.join(work, 'fleet');
    for (const [name, text] of Object.entries(fleetFiles)) {
      fs.mkdirSync(path.dirname(path.join(fleetDir, name)), { recursive: true });
      fs.writeFileSync(path.join(fleetDir, name), text);
    }
    Object.assign(ws.env, { PULUMI_CONFIG_PASSPHRASE: 'mender-fleet-local-demo', MENDER_SERVER_URL: emu.emulator.url, MENDER_ACCESS_TOKEN: TOKEN, FLEET_PATH: fleetDir });
    await ws.ok(['stack', 'init', 'canary']);
  });

  afterAll(async () => {
    await ws?.run(['stack', 'rm', 'canary', '--yes', '--force', '--preserve-config']);
    ws?.dispose();
    await emu?.emulator.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('runs its image still: status converged, plan empty', async () => {
    await step('installs the image on both devices and configures the kiosk', async () => {
      await ws.ok(['up', '--yes', '--skip-preview', '--stack', 'canary', '--config-file', configFile(60), '--message', 'first apply']);
      expect((await inventoryOf(B)).artifact_name).toBe('pi4-2026.11');
    });
    await step('a configuration change alone: the device commits the configuration artifact as the real client does', async () => {
      fs.writeFileSync(path.join(fleetDir, 'host_vars', `${A}.yml`), kioskVars('https://example.org/two'));
      await emu.clearRequests();
      await ws.ok(['up', '--yes', '--skip-preview', '--stack', 'canary', '--config-file', configFile(60), '--message', 'kiosk moved']);
      expect(softwareDeploymentsCreated(await emu.requests())).toEqual([]);
      const config = await emu.api<{ reported: Record<string, string>; deployment_id: string }>('GET', `/api/management/v1/deviceconfig/configurations/device/${A}`);
      expect(config.reported).toEqual({ kiosk_url: 'https://example.org/two' });
      const inventory = await inventoryOf(A);
      expect(inventory.artifact_name).toBe(`configuration-${config.deployment_id}`);
      expect(inventory['data-partition.mender-configure.version']).toBe(`configuration-${config.deployment_id}`);
      expect(inventory['rootfs-image.version']).toBe('pi4-2026.11');
    });
    await step('fleet status says every device converged, the kiosk running its image', async () => {
      const status = await fleetCli(['status', '--stack', 'canary', '--json'], ws.env);
      expect(status.stderr).toBe('');
      expect(status.code).toBe(0);
      const rows = JSON.parse(status.stdout) as { id: string; runningImage: string; configuration: string; converged: boolean }[];
      expect(rows.map((r) => [r.id, r.runningImage, r.configuration, r.converged])).toEqual([
        [A, 'pi4-2026.11', 'in sync', true],
        [B, 'pi4-2026.11', 'none', true],
      ]);
    });
    await step('fleet plan gives no device a new image', async () => {
      await emu.clearRequests();
      const plan = await fleetCli(['plan', '--stack', 'canary', '--config-file', configFile(60)], ws.env);
      expect(plan.stderr).toBe('');
      expect(plan.code).toBe(0);
      expect(plan.stdout).toContain('no device gets a new image');
      expect(plan.stdout).toContain('Image pi4-2026.11: 0 devices get it, 2 already run it');
    });
  }, 600_000);
});
