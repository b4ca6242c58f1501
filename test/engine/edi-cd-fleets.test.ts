// Fleets in the two edi-cd layouts (test/fixtures/edi-cd-talk, test/fixtures/edi-cd-current)
// applied as they are by the fleet program through the real engine against the emulator, with
// the repository's own ring names (main, production): every device of the ring runs its image
// and reports the configuration Ansible renders, and the tokens the host vars read with
// lookup('env', …) reach the devices but neither the preview nor the state.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmulatorHandle, emulatorFor, mutating } from '../helpers/emulator';
import { pulumiWorkspace, PulumiWorkspace, repoRoot } from '../helpers/pulumi';
import { step } from '../helpers/step';
import { CURRENT, CURRENT_EXPECTED, INFLUX_TOKEN, RUNNER_TOKEN, TALK, TALK_EXPECTED } from '../program/edi-cd-expected';

const TOKEN = 'edi-cd-test-token-41c8';

const device = (id: string, type: string, artifact: string) => ({ id, device_type: type, artifact_name: artifact });
const world = {
  artifacts: [
    ...['2026-10-05-pi4-bullseye-arm64-gitops', '2026-11-02-pi4-bullseye-arm64-gitops', '2026-10-05-pi4-gitops-bookworm-arm64', '2026-11-02-pi4-gitops-bookworm-arm64'].map((name) => ({ name, device_types: ['pi4-v3-arm64'] })),
    ...['2026-10-05-pi3-bullseye-arm64-gitops', '2026-11-02-pi3-bullseye-arm64-gitops'].map((name) => ({ name, device_types: ['pi3-arm64'] })),
    ...['2026-10-05-pi2-bullseye-armhf', '2026-11-02-pi2-bullseye-armhf', '2026-10-05-pi2-gitops-bookworm-armhf', '2026-11-02-pi2-gitops-bookworm-armhf'].map((name) => ({ name, device_types: ['pi2-armhf'] })),
    { name: '2026-11-02-pi3-gitops-trixie-arm64', device_types: ['pi3-v3-arm64'] },
    { name: '2026-11-20-pi5-gitops-trixie-arm64', device_types: ['pi5-v3-arm64'] },
  ],
  devices: [
    // talk-era fleet
    device('93edb46f-7c44-45d5-a16b-a333d14c33a2', 'pi4-v3-arm64', '2026-10-05-pi4-bullseye-arm64-gitops'),
    device('4d215467-e6e2-47c8-abc7-3e99469faa4d', 'pi4-v3-arm64', '2026-10-05-pi4-bullseye-arm64-gitops'),
    device('77fbf145-4cb7-498d-a1d7-35a0089d5ede', 'pi3-arm64', '2026-10-05-pi3-bullseye-arm64-gitops'),
    device('bc195395-7da8-4d49-a0d2-57e3bbdd7252', 'pi3-arm64', '2026-11-02-pi3-bullseye-arm64-gitops'),
    device('a937754e-d6ef-445c-bde4-22b13358b478', 'pi2-armhf', '2026-10-05-pi2-bullseye-armhf'),
    // current-layout fleet
    device('598b2b43-2f8e-4bac-8cd7-b6902b783623', 'pi5-v3-arm64', '2026-11-20-pi5-gitops-trixie-arm64'),
    device('dcfc89b8-2a77-4f60-a708-1fe701e77823', 'pi4-v3-arm64', '2026-10-05-pi4-gitops-bookworm-arm64'),
    device('f3c89826-a324-4edd-9408-b13292a0073a', 'pi4-v3-arm64', '2026-10-05-pi4-gitops-bookworm-arm64'),
    device('2b76c873-153d-4e0c-b95c-1f1f2d882ec1', 'pi3-v3-arm64', '2026-11-02-pi3-gitops-trixie-arm64'),
    device('dd24fda7-7ad3-4fc9-b148-0d05c018becb', 'pi3-v3-arm64', '2026-11-02-pi3-gitops-trixie-arm64'),
    device('e7580a18-c979-4e41-bedc-c06f1695954e', 'pi2-armhf', '2026-10-05-pi2-gitops-bookworm-armhf'),
  ],
  tokens: [TOKEN],
  users: [],
};

interface DeviceState {
  image: string;
  reported: Record<string, string>;
}

describe('edi-cd fleets applied as they are', () => {
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let work: string;
  const configFiles = new Map<string, string>();

  /**
   * A stack with its configuration in a file of its own: `stack init` writes the stack's salt
   * into the project folder, so it moves from there at once, with the ring's settings.
   */
  async function stack(name: string, settings: string[]): Promise<void> {
    await ws.ok(['stack', 'init', name]);
    const created = path.join(repoRoot, `Pulumi.${name}.yaml`);
    const salt = /^encryptionsalt: .*$/m.exec(fs.readFileSync(created, 'utf8'))![0];
    fs.rmSync(created);
    const file = path.join(work, `Pulumi.${name}.yaml`);
    // The one setting an edi-cd repository adds: the variables its host_vars look up.
    fs.writeFileSync(file, ['config:', '  fleet:pollMilliseconds: 100', '  fleet:lookupEnv: [RUNNER_ACCESS_TOKEN, INFLUXDB_HTTP_TOKEN]', ...settings.map((s) => `  ${s}`), salt, ''].join('\n'));
    configFiles.set(name, file);
  }
  const pulumi = (args: string[], name: string, env: NodeJS.ProcessEnv) => ws.ok([...args, '--stack', name, '--config-file', configFiles.get(name)!], { env });

  async function onServer(ids: string[]): Promise<Record<string, DeviceState>> {
    const inventory = await emu.api<{ id: string; attributes: { name: string; value: string; scope: string }[] }[]>('GET', '/api/management/v1/inventory/devices?per_page=100');
    const states: Record<string, DeviceState> = {};
    for (const id of ids) {
      const attributes = inventory.find((d) => d.id === id)!.attributes;
      const configuration = await emu.api<{ reported?: Record<string, string> }>('GET', `/api/management/v1/deviceconfig/configurations/device/${id}`);
      // The OS image's own provide, which a configuration deployment leaves (artifact_name becomes configuration-<id>).
      states[id] = { image: attributes.find((a) => a.scope === 'inventory' && a.name === 'rootfs-image.version')!.value, reported: configuration.reported ?? {} };
    }
    return states;
  }

  const expectedStates = (expected: Record<string, [string, Record<string, string> | undefined]>) =>
    Object.fromEntries(Object.entries(expected).map(([id, [image, configuration]]) => [id, { image, reported: configuration ?? {} }]));

  beforeAll(async () => {
    emu = await emulatorFor(world, TOKEN);
    ws = pulumiWorkspace();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-edi-cd-'));
    Object.assign(ws.env, { MENDER_SERVER_URL: emu.emulator.url, MENDER_ACCESS_TOKEN: TOKEN });
    // Both rings of the talk promote from main, as a ported repository names it once in Pulumi.yaml.
    await stack('edicd-talk-main', ['fleet:branch: main', 'fleet:promoteFrom: main']);
    await stack('edicd-talk-production', ['fleet:branch: production', 'fleet:promoteFrom: main']);
    await stack('edicd-current-main', ['fleet:branch: main', 'fleet:promoteFrom: main']);
  });

  afterAll(async () => {
    for (const name of configFiles.keys()) await ws?.run(['stack', 'rm', name, '--yes', '--force', '--preserve-config']);
    ws?.dispose();
    await emu?.emulator.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  describe('the talk-era layout', () => {
    const env = { FLEET_PATH: TALK, RUNNER_ACCESS_TOKEN: RUNNER_TOKEN };

    it('ring main applied, then ring production, gated by main, previewed and applied', async () => {
      await step('applies ring main: each device runs its image and reports what Ansible renders', async () => {
        await pulumi(['up', '--yes', '--skip-preview'], 'edicd-talk-main', env);
        expect(await onServer(Object.keys(TALK_EXPECTED.main))).toEqual(expectedStates(TALK_EXPECTED.main));
        // The production devices are left alone.
        expect((await onServer(Object.keys(TALK_EXPECTED.production)))['93edb46f-7c44-45d5-a16b-a333d14c33a2']).toEqual({ image: '2026-10-05-pi4-bullseye-arm64-gitops', reported: {} });
      });
      await step('previews ring production, gated by main, without the runner token', async () => {
        await emu.clearRequests();
        const { stdout, stderr } = await pulumi(['preview', '--diff'], 'edicd-talk-production', env);
        expect(stdout).toContain('[urn=urn:pulumi:edicd-talk-production::fleet::pulumi-nodejs:dynamic/mender:DeviceConfigurationSet::pi4/github-runner.json]');
        expect(stdout).toMatch(/93edb46f-7c44-45d5-a16b-a333d14c33a2\s*: \{/);
        expect(stdout).toMatch(/github_account\s*: "example-org"/);
        expect(stdout).toMatch(/secretValues\s*: \[secret\]/);
        expect(stdout + stderr).not.toContain(RUNNER_TOKEN);
        expect(mutating(await emu.requests())).toEqual([]);
      });
      await step('applies ring production: the runner gets the token from the environment, the state does not', async () => {
        await pulumi(['up', '--yes', '--skip-preview'], 'edicd-talk-production', env);
        expect(await onServer(Object.keys(TALK_EXPECTED.production))).toEqual(expectedStates(TALK_EXPECTED.production));
        const { stdout: state } = await ws.ok(['stack', 'export', '--stack', 'edicd-talk-production']);
        expect(state).toContain('93edb46f-7c44-45d5-a16b-a333d14c33a2');
        expect(state).not.toContain(RUNNER_TOKEN);
      });
    }, 720_000);
  });

  describe('the current layout', () => {
    const env = { FLEET_PATH: CURRENT, RUNNER_ACCESS_TOKEN: RUNNER_TOKEN, INFLUXDB_HTTP_TOKEN: INFLUX_TOKEN };

    it('applies ring main with the one template, warning about the stale host_vars, keeping both tokens out of the state', async () => {
      const { stdout, stderr } = await pulumi(['up', '--yes', '--skip-preview'], 'edicd-current-main', env);
      expect(stdout + stderr).toContain('2 host_vars files are for devices not in the inventory and ignored');
      expect(stdout + stderr).not.toContain(RUNNER_TOKEN);
      expect(stdout + stderr).not.toContain(INFLUX_TOKEN);
      expect(await onServer(Object.keys(CURRENT_EXPECTED.main))).toEqual(expectedStates(CURRENT_EXPECTED.main));
      const { stdout: state } = await ws.ok(['stack', 'export', '--stack', 'edicd-current-main']);
      expect(state).not.toContain(RUNNER_TOKEN);
      expect(state).not.toContain(INFLUX_TOKEN);
    });
  });
});
