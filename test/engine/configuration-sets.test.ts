// Configurations batched per (group, template) through the real engine: one DeviceConfigurationSet
// for four kiosks, and still everything per device. A change of one device's URL and another's
// secret shows in `preview --diff` under those two device ids only; the up sends configurations to
// those two only; the audit names them. A device that rejects its configuration fails the set with
// its id, the others are configured and recorded (the retry of that device alone, through the
// provider protocol: test/protocol/configuration-set.test.ts).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadAuditUpdates } from '../../cli/audit-source';
import { auditEntries } from '../../program/audit/entries';
import { formatAudit } from '../../program/audit/report';
import { EmulatorHandle, emulatorFor, LoggedRequest } from '../helpers/emulator';
import { pulumiWorkspace, PulumiWorkspace, repoRoot } from '../helpers/pulumi';
import { step } from '../helpers/step';
import { KIOSKS, kiosksWorld } from '../helpers/scenario-worlds';

const TOKEN = 'configuration-sets-token-51c2';
const K = KIOSKS;
const world = kiosksWorld(TOKEN);

const hostVars = (n: number, url: string) => [`kiosk_token_var: KIOSK_TOKEN_${n}`, 'configuration:', '  template: kiosk.json', '  parameters:', `    kiosk_url: ${url}`, ''].join('\n');
const fleetFiles: Record<string, string> = {
  'inventory.yml': ['all:', '  children:', '    kiosks:', '      hosts:', ...K.map((id) => `        ${id}:`), ''].join('\n'),
  'group_vars/all.yml': ['subscribed_branch: canary', 'os_image:', '  - device_type: pi4-v3-arm64', '    image_name: pi4-2026.11', ''].join('\n'),
  ...Object.fromEntries(K.map((id, i) => [`host_vars/${id}.yml`, hostVars(i + 1, `https://example.org/kiosk-${i + 1}`)])),
  // Each kiosk reads its own token variable, so one device's secret can change alone.
  'templates/kiosk.json': '{\n  "kiosk_url": "{{ kiosk_url }}",\n  "kiosk_token": "{{ lookup(\'env\', kiosk_token_var) }}"\n}\n',
};

/** Devices that were sent a configuration (PUT deviceconfig) in these requests. */
function configured(requests: LoggedRequest[]): string[] {
  return requests
    .filter((r) => r.method === 'PUT' && r.path.startsWith('/api/management/v1/deviceconfig/configurations/device/'))
    .map((r) => r.path.split('/').pop()!)
    .sort();
}

describe('configuration sets: one resource per group and template, changes per device', () => {
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let work: string;
  let fleetDir: string;
  let configFile: string;

  const reported = async (id: string) => (await emu.api<{ reported: Record<string, string> }>('GET', `/api/management/v1/deviceconfig/configurations/device/${id}`)).reported;

  beforeAll(async () => {
    emu = await emulatorFor(world, TOKEN);
    ws = pulumiWorkspace();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-sets-'));
    fleetDir = path.join(work, 'fleet');
    for (const [name, text] of Object.entries(fleetFiles)) {
      fs.mkdirSync(path.dirname(path.join(fleetDir, name)), { recursive: true });
      fs.writeFileSync(path.join(fleetDir, name), text);
    }
    const salt = /^encryptionsalt: .*$/m.exec(fs.readFileSync(path.join(repoRoot, 'Pulumi.canary.yaml'), 'utf8'))![0];
    configFile = path.join(work, 'Pulumi.canary.yaml');
    fs.writeFileSync(configFile, ['config:', '  fleet:branch: canary', '  fleet:pollMilliseconds: 100', '  fleet:rolloutTimeoutSeconds: 60', '  fleet:lookupEnv: [KIOSK_TOKEN_1, KIOSK_TOKEN_2, KIOSK_TOKEN_3, KIOSK_TOKEN_4]', salt, ''].join('\n'));
    Object.assign(ws.env, {
      PULUMI_CONFIG_PASSPHRASE: 'mender-fleet-local-demo',
      MENDER_SERVER_URL: emu.emulator.url,
      MENDER_ACCESS_TOKEN: TOKEN,
      FLEET_PATH: fleetDir,
      KIOSK_TOKEN_1: 'token-one',
      KIOSK_TOKEN_2: 'token-two',
      KIOSK_TOKEN_3: 'token-three',
      KIOSK_TOKEN_4: 'token-four',
    });
    await ws.ok(['stack', 'init', 'canary']);
  });

  afterAll(async () => {
    await ws?.run(['stack', 'rm', 'canary', '--yes', '--force', '--preserve-config']);
    ws?.dispose();
    await emu?.emulator.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('four kiosks through one configuration set: applied, changed per device, one failing and recorded', async () => {
    await step('configures the four kiosks through one DeviceConfigurationSet, keeping the secret out of the state', async () => {
      const { stdout } = await ws.ok(['up', '--yes', '--skip-preview', '--stack', 'canary', '--config-file', configFile, '--message', 'kiosks: first apply']);
      expect(stdout).toContain('mender:DeviceConfigurationSet kiosks/kiosk.json created');
      expect(stdout).not.toMatch(/mender:DeviceConfiguration /);
      for (const [i, id] of K.entries()) {
        expect(await reported(id)).toEqual({ kiosk_url: `https://example.org/kiosk-${i + 1}`, kiosk_token: ['token-one', 'token-two', 'token-three', 'token-four'][i] });
      }
      const exported = (await ws.ok(['stack', 'export', '--stack', 'canary'])).stdout;
      expect(exported).not.toContain('token-three');
      const set = (JSON.parse(exported) as { deployment: { resources: { type: string; outputs?: { devices: Record<string, { secretValues: unknown }> } }[] } }).deployment.resources.find((r) =>
        r.type.endsWith('DeviceConfigurationSet'),
      )!;
      // Each device's secret values are a secret of their own, in the inputs and in the outputs.
      expect(Object.keys(set.outputs!.devices).sort()).toEqual(K);
      expect(set.outputs!.devices[K[2]].secretValues).toEqual(expect.objectContaining({ ciphertext: expect.any(String) }));
    });
    await step('previews a URL change marked under its device, the others unmarked, no secret shown', async () => {
      fs.writeFileSync(path.join(fleetDir, 'host_vars', `${K[1]}.yml`), hostVars(2, 'https://example.org/kiosk-2-moved'));
      ws.env.KIOSK_TOKEN_3 = 'token-three-rotated';
      await emu.clearRequests();
      const { stdout } = await ws.ok(['preview', '--diff', '--stack', 'canary', '--config-file', configFile]);
      expect(stdout).toMatch(/~ pulumi-nodejs:dynamic\/mender:DeviceConfigurationSet: \(update\)/);
      // The engine prints a changed set whole (a dynamic provider cannot hand it a detailed diff) and
      // marks what changes: K2's URL, old and new. The secret shows as [secret], never its value.
      expect(stdout).toMatch(new RegExp(`~ ${K[1]}: \\{\\s+secretValues: \\[secret\\]\\s+~ values\\s+: \\{\\s+~ kiosk_url: "https://example.org/kiosk-2" => "https://example.org/kiosk-2-moved"`));
      const marked = [...stdout.matchAll(/~ (c[0-9a-f-]{35}):/g)].map((m) => m[1]);
      expect(marked).not.toContain(K[0]);
      expect(marked).not.toContain(K[3]);
      expect(stdout).not.toContain('token-three');
      expect(stdout).toMatch(/~ 1 to update/);
      expect(configured(await emu.requests())).toEqual([]);
    });
    await step('sends the configuration to those two devices only, and the audit names them', async () => {
      await emu.clearRequests();
      await ws.ok(['up', '--yes', '--skip-preview', '--stack', 'canary', '--config-file', configFile, '--message', 'kiosks: k2 moved, k3 token rotated']);
      expect(configured(await emu.requests())).toEqual([K[1], K[2]]);
      expect((await reported(K[1])).kiosk_url).toBe('https://example.org/kiosk-2-moved');
      expect((await reported(K[2])).kiosk_token).toBe('token-three-rotated');

      const updates = await loadAuditUpdates({ stack: 'canary', cwd: repoRoot, env: ws.env });
      const text = formatAudit(auditEntries(updates, { from: 2 }));
      expect(text).toContain(`device ${K[1]}: configuration keys kiosk_url changed`);
      expect(text).toContain(`device ${K[2]}: configuration secret keys kiosk_token changed`);
      expect(text).not.toContain(K[0]);
      expect(text).not.toContain(K[3]);
    });
    await step('fails only the device that rejects its configuration, names it, and records the others as configured', async () => {
      fs.writeFileSync(path.join(fleetDir, 'host_vars', `${K[0]}.yml`), hostVars(1, 'https://example.org/kiosk-1-v2'));
      fs.writeFileSync(path.join(fleetDir, 'host_vars', `${K[3]}.yml`), hostVars(4, 'https://example.org/kiosk-4-v2'));
      await emu.admin('POST', `/devices/${K[3]}/behavior`, { reject_config: true });
      await emu.clearRequests();
      const failedUp = await ws.run(['up', '--yes', '--skip-preview', '--stack', 'canary', '--config-file', configFile, '--message', 'kiosks: k1 and k4 v2']);
      expect(failedUp.code).not.toBe(0);
      const output = failedUp.stdout + failedUp.stderr;
      expect(output).toContain(`configuration set kiosks/kiosk.json: 1 of 4 device(s) not configured: ${K[3]}`);
      expect(output).toContain(`device ${K[3]} failed to apply its configuration`);
      expect(configured(await emu.requests())).toEqual([K[0], K[3]]);
      expect((await reported(K[0])).kiosk_url).toBe('https://example.org/kiosk-1-v2');

      // The state holds what was done: K1 configured, K4 failed.
      const exported = JSON.parse((await ws.ok(['stack', 'export', '--stack', 'canary'])).stdout) as { deployment: { resources: { type: string; outputs?: { failed: Record<string, string> } }[] } };
      const set = exported.deployment.resources.find((r) => r.type.endsWith('DeviceConfigurationSet'))!;
      expect(Object.keys(set.outputs!.failed)).toEqual([K[3]]);

      // The next up sends to K4 alone, and the one after sends nothing: the provider protocol
      // of that retry is in test/protocol/configuration-set.test.ts.
    });
  }, 960_000);
});
