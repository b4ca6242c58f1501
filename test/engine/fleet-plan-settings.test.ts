// `fleet plan` and the following `pulumi up` read the stack's settings the same way (one
// pipeline, program/pipeline/): a stack with fleet:defaultRing, fleet:templates and fleet:strict
// set gets from the plan the devices, images and configurations the up then declares. Before the
// pipeline was shared, `fleet plan` passed neither strict nor templates to validation and no
// defaultRing to the planner: it refused a valid fleet, let a strict one's stale host_vars pass,
// and put the devices naming no ring in the wrong ring.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gatherChangeReport } from '../../cli/plan';
import type { ChangeReport } from '../../program/change-report';
import { EmulatorHandle, emulatorFor, mutating } from '../helpers/emulator';
import { pulumiWorkspace, PulumiWorkspace, repoRoot } from '../helpers/pulumi';
import { step } from '../helpers/step';

const TOKEN = 'plan-settings-token-7c1d';
const PI4 = 'pi4-v3-arm64';
const A = 'a1a1a1a1-0000-4000-8000-0000000000a1'; // Git puts it in production
const B = 'b2b2b2b2-0000-4000-8000-0000000000b2'; // names no ring: the stack's default ring
const C = 'c3c3c3c3-0000-4000-8000-0000000000c3'; // names no ring, configured from the stack's template folder
const STALE = 'd4d4d4d4-0000-4000-8000-0000000000d4'; // host_vars only, not in the inventory

const world = {
  artifacts: [
    { name: 'pi4-2026.10', device_types: [PI4] },
    { name: 'pi4-2026.11', device_types: [PI4] },
  ],
  devices: [A, B, C].map((id) => ({ id, device_type: PI4, artifact_name: 'pi4-2026.10' })),
  tokens: [TOKEN],
  users: [],
};

const fleetFiles: Record<string, string> = {
  'inventory.yml': ['all:', '  children:', '    pi4:', '      hosts:', `        ${A}:`, `        ${B}:`, `        ${C}:`, ''].join('\n'),
  'group_vars/all.yml': ['os_image:', `  - device_type: ${PI4}`, '    image_name: pi4-2026.11', ''].join('\n'),
  [`host_vars/${A}.yml`]: 'subscribed_branch: production\n',
  [`host_vars/${C}.yml`]: ['configuration:', '  template: kiosk.json', '  parameters:', '    kiosk_url: https://example.org/lab', ''].join('\n'),
  // Only fleet:templates finds it: the default folders are templates/ and roles/apply_configuration/templates/.
  'device-config/kiosk.json': '{\n  "kiosk_url": "{{ kiosk_url }}"\n}\n',
};
const STALE_HOST_VARS = `host_vars/${STALE}.yml`;

/** What the stack declared: its `devices` output after an up. */
interface Declared {
  ring: string;
  desiredImage: string;
  configurationHash: string | null;
}

/** The plan in the terms the outputs give: the devices of the ring, each one's image, and which get a configuration. */
function planned(plan: ChangeReport) {
  const images = Object.fromEntries(plan.images.flatMap((i) => i.devices.map((d) => [d, i.image])));
  return {
    devices: plan.joining.map((m) => m.device).sort(),
    images,
    configured: plan.configurations.map((c) => c.device).sort(),
  };
}

/** The emulator, a canary stack on a throw-away backend, and the fleet files in a folder of their own. */
interface Setting {
  ws: PulumiWorkspace;
  emu: EmulatorHandle;
  work: string;
  fleetDir: string;
  /** The stack file's salt (of the local demo passphrase), for the stack files the tests write. */
  salt: string;
}

async function canaryStack(prefix: string): Promise<Setting> {
  const emu = await emulatorFor(world, TOKEN);
  const ws = pulumiWorkspace();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const fleetDir = path.join(work, 'fleet');
  for (const [name, text] of Object.entries(fleetFiles)) {
    fs.mkdirSync(path.dirname(path.join(fleetDir, name)), { recursive: true });
    fs.writeFileSync(path.join(fleetDir, name), text);
  }
  const salt = /^encryptionsalt: .*$/m.exec(fs.readFileSync(path.join(repoRoot, 'Pulumi.canary.yaml'), 'utf8'))![0];
  Object.assign(ws.env, { PULUMI_CONFIG_PASSPHRASE: 'mender-fleet-local-demo', MENDER_SERVER_URL: emu.emulator.url, MENDER_ACCESS_TOKEN: TOKEN });
  await ws.ok(['stack', 'init', 'canary']);
  return { ws, emu, work, fleetDir, salt };
}

async function removeStack(setting: Setting | undefined): Promise<void> {
  if (!setting) return;
  await setting.ws.run(['stack', 'rm', 'canary', '--yes', '--force', '--preserve-config']);
  setting.ws.dispose();
  await setting.emu.emulator.close();
  fs.rmSync(setting.work, { recursive: true, force: true });
}

describe('fleet plan and up agree on a stack with fleet:defaultRing, fleet:templates and fleet:strict', () => {
  let setting: Setting | undefined;
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let fleetDir: string;
  let configFile: string;

  beforeAll(async () => {
    setting = await canaryStack('fleet-plan-settings-');
    ({ ws, emu, fleetDir } = setting);
    const { work, salt } = setting;
    configFile = path.join(work, 'Pulumi.canary.yaml');
    fs.writeFileSync(
      configFile,
      [
        'config:',
        '  fleet:branch: canary',
        '  fleet:defaultRing: canary',
        '  fleet:templates: device-config',
        '  fleet:strict: true',
        `  fleet:path: ${fleetDir}`,
        '  fleet:pollMilliseconds: 100',
        '  fleet:rolloutTimeoutSeconds: 60',
        salt,
        '',
      ].join('\n'),
    );
  });

  afterAll(() => removeStack(setting));

  it('plans what the up declares, and refuses what the up refuses', async () => {
    await step('with fleet:strict, both refuse host_vars of a device not in the inventory', async () => {
      fs.writeFileSync(path.join(fleetDir, STALE_HOST_VARS), 'subscribed_branch: canary\n');
      const plan = await gatherChangeReport({ stack: 'canary', env: ws.env, configFile });
      const stale = `${STALE_HOST_VARS}:1: device ${STALE} is not in the inventory; add it to a group in inventory.yml`;
      expect(plan.errors).toEqual([stale]);
      expect(plan.stops).toHaveLength(1);
      await emu.clearRequests();
      const up = await ws.run(['up', '--yes', '--skip-preview', '--stack', 'canary', '--config-file', configFile]);
      expect(up.code).not.toBe(0);
      expect(up.stdout + up.stderr).toContain(stale);
      expect(mutating(await emu.requests())).toEqual([]);
      fs.rmSync(path.join(fleetDir, STALE_HOST_VARS));
    });

    let plan: ChangeReport;
    await step('fleet plan puts the devices naming no ring in the default ring, configured from fleet:templates', async () => {
      await emu.clearRequests();
      plan = await gatherChangeReport({ stack: 'canary', env: ws.env, configFile });
      expect(mutating(await emu.requests())).toEqual([]);
      expect(plan.errors).toEqual([]);
      expect(plan.stops).toEqual([]);
      expect(planned(plan)).toEqual({ devices: [B, C], images: { [B]: 'pi4-2026.11', [C]: 'pi4-2026.11' }, configured: [C] });
      expect(plan.joining.map((m) => [m.device, m.reason, m.ring])).toEqual([
        [B, 'default', 'canary'],
        [C, 'default', 'canary'],
      ]);
    });

    await step('the up declares the same devices, images and configurations', async () => {
      await ws.ok(['up', '--yes', '--skip-preview', '--stack', 'canary', '--config-file', configFile]);
      const outputs = JSON.parse((await ws.ok(['stack', 'output', 'devices', '--json', '--show-secrets', '--stack', 'canary'])).stdout) as Record<string, Declared>;
      expect({
        devices: Object.keys(outputs).sort(),
        images: Object.fromEntries(Object.entries(outputs).map(([id, d]) => [id, d.desiredImage])),
        configured: Object.keys(outputs).filter((id) => outputs[id].configurationHash !== null).sort(),
      }).toEqual(planned(plan));
      for (const declared of Object.values(outputs)) expect(declared.ring).toBe('canary');
    });
  }, 600_000);
});

/**
 * What the program declares, from `pulumi preview --json --show-secrets`: each MenderDeployment's
 * devices (device → image) and the devices of each DeviceConfigurationSet.
 */
function declaredByPreview(stdout: string) {
  const preview = JSON.parse(stdout) as { steps?: { urn: string; newState?: { type: string; inputs?: Record<string, unknown> } }[] };
  const images: Record<string, string> = {};
  const configured: string[] = [];
  for (const s of preview.steps ?? []) {
    const state = s.newState;
    if (!state?.inputs) continue;
    if (state.type.endsWith(':MenderDeployment')) for (const d of state.inputs.devices as string[]) images[d] = state.inputs.artifactName as string;
    if (state.type.endsWith(':DeviceConfigurationSet')) configured.push(...Object.keys(state.inputs.devices as Record<string, unknown>));
  }
  return { devices: Object.keys(images).sort(), images, configured: configured.sort() };
}

describe('fleet plan and the program agree for every fleet: key that changes what is declared', () => {
  let setting: Setting | undefined;
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let work: string;
  let fleetDir: string;
  let salt: string;

  beforeAll(async () => {
    setting = await canaryStack('fleet-plan-keys-');
    ({ ws, emu, work, fleetDir, salt } = setting);
    // A second fleet folder, for fleet:path: every device in production.
    const other = path.join(work, 'other-fleet');
    fs.cpSync(fleetDir, other, { recursive: true });
    fs.writeFileSync(path.join(other, 'group_vars', 'all.yml'), fleetFiles['group_vars/all.yml'] + 'subscribed_branch: production\n');
    // And one for fleet:strict: host_vars of a device the inventory does not list.
    const stale = path.join(work, 'stale-fleet');
    fs.cpSync(fleetDir, stale, { recursive: true });
    fs.writeFileSync(path.join(stale, STALE_HOST_VARS), 'subscribed_branch: canary\n');
  });

  afterAll(() => removeStack(setting));

  /** Every case starts from these; a key set to undefined is left out. */
  // Pulumi.yaml's default fleet:promoteFrom is canary: empty, the production ring has no gate but where a case sets one.
  const base: Record<string, string | undefined> = { 'fleet:branch': 'production', 'fleet:defaultRing': 'production', 'fleet:templates': 'device-config', 'fleet:promoteFrom': '""' };
  const cases: { key: string; config: Record<string, string | undefined>; refused?: RegExp }[] = [
    { key: 'fleet:branch: production (A by Git, B and C by the default ring)', config: {} },
    { key: 'fleet:branch: canary with fleet:defaultRing: canary (B and C)', config: { 'fleet:branch': 'canary', 'fleet:defaultRing': 'canary' } },
    { key: 'fleet:defaultRing: canary on the production stack (A only)', config: { 'fleet:defaultRing': 'canary' } },
    { key: 'fleet:path (another folder: every device in production by Git)', config: { 'fleet:path': '{work}/other-fleet', 'fleet:defaultRing': undefined } },
    { key: 'fleet:templates unset (kiosk.json is only in device-config/)', config: { 'fleet:templates': undefined }, refused: /kiosk\.json/ },
    { key: 'fleet:strict (host_vars of a device not in the inventory)', config: { 'fleet:strict': 'true', 'fleet:path': '{work}/stale-fleet' }, refused: /is not in the inventory/ },
    { key: 'fleet:promoteFrom: canary (nothing finished on canary)', config: { 'fleet:promoteFrom': 'canary' }, refused: /promotion gate refuses pi4-2026.11|pi4-2026.11.*canary/ },
    {
      key: 'fleet:promotionOverride (lets the image through)',
      config: { 'fleet:promoteFrom': 'canary', 'fleet:promotionOverride': '\n    - image: pi4-2026.11\n      reason: tested on the bench board' },
    },
    { key: 'fleet:devicesPerConfigurationSet: 1', config: { 'fleet:devicesPerConfigurationSet': '1' } },
  ];

  it('for each key, the plan\'s devices, images and configurations are what the program declares', async () => {
    for (const c of cases) {
      await step(c.key, async () => {
        const configFile = path.join(work, 'Pulumi.canary.yaml');
        const settings: Record<string, string | undefined> = { 'fleet:path': fleetDir, ...base, ...c.config, 'fleet:pollMilliseconds': '100', 'fleet:rolloutTimeoutSeconds': '60' };
        const lines = Object.entries(settings).filter(([, v]) => v !== undefined).map(([k, v]) => `  ${k}:${v!.startsWith('\n') ? '' : ' '}${v!.replace('{work}', work)}`);
        fs.writeFileSync(configFile, ['config:', ...lines, salt, ''].join('\n'));
        await emu.clearRequests();
        const plan = await gatherChangeReport({ stack: 'canary', env: ws.env, configFile });
        const preview = await ws.run(['preview', '--json', '--show-secrets', '--stack', 'canary', '--config-file', configFile]);
        expect(mutating(await emu.requests())).toEqual([]);
        if (c.refused) {
          expect([...plan.stops, ...plan.errors].join('\n')).toMatch(c.refused);
          expect(preview.code).not.toBe(0);
          expect(preview.stdout + preview.stderr).toMatch(c.refused);
          // The same errors, word for word (--json escapes them inside its diagnostics).
          const said = preview.stdout + preview.stderr;
          for (const error of plan.errors) expect({ error, said: said.includes(error) || said.includes(JSON.stringify(error).slice(1, -1)) }).toEqual({ error, said: true });
          return;
        }
        expect(plan.stops).toEqual([]);
        expect(preview.code).toBe(0);
        const declared = declaredByPreview(preview.stdout);
        expect(declared.devices.length).toBeGreaterThan(0);
        expect(planned(plan)).toEqual(declared);
      });
    }
  }, 900_000);
});
