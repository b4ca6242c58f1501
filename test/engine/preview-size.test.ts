// A preview does not grow with the ring: the same stack previewed at 20 and at 400 devices
// prints the same few lines (the per-device summary is a secret output, shown as `[secret]`).
// The 10,000-device figures are in docs/performance.md (npm run bench).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateFleet } from '../../bench/generated-fleet';
import { EmulatorHandle, emulatorFor } from '../helpers/emulator';
import { pulumiWorkspace, PulumiWorkspace, repoRoot } from '../helpers/pulumi';
import { step } from '../helpers/step';

const TOKEN = 'preview-size-token';
const SMALL = 20;
const LARGE = 400;

describe('a no-op preview of the fleet program', () => {
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let work: string;
  let configFile: string;
  let large: ReturnType<typeof generateFleet>;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-preview-size-'));
    // Unconfigured devices: the resources (an image and a deployment per device type) stay the
    // same at both sizes, so only what the program prints per device could make the preview grow.
    generateFleet(SMALL, path.join(work, 'small'), TOKEN, { configure: false });
    large = generateFleet(LARGE, path.join(work, 'large'), TOKEN, { configure: false });
    emu = await emulatorFor(large.world, TOKEN);
    ws = pulumiWorkspace();
    Object.assign(ws.env, { PULUMI_CONFIG_PASSPHRASE: 'mender-fleet-local-demo', MENDER_SERVER_URL: emu.emulator.url, MENDER_ACCESS_TOKEN: TOKEN });
    // The production ring without its promotion gate: this stack has no canary to promote from.
    const salt = /^encryptionsalt: .*$/m.exec(fs.readFileSync(path.join(repoRoot, 'Pulumi.production.yaml'), 'utf8'))![0];
    configFile = path.join(work, 'Pulumi.production.yaml');
    fs.writeFileSync(configFile, ['config:', '  fleet:branch: production', '  fleet:pollMilliseconds: 100', '  fleet:promoteFrom: ""', salt, ''].join('\n'));
    await ws.ok(['stack', 'init', 'production']);
  });

  afterAll(async () => {
    await ws?.run(['stack', 'rm', 'production', '--yes', '--force', '--preserve-config']);
    ws?.dispose();
    await emu?.emulator.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const preview = async (fleet: string, flags: string[] = []) => {
    const result = await ws.ok(['preview', '--suppress-progress', ...flags, '--stack', 'production', '--config-file', configFile], { env: { FLEET_PATH: path.join(work, fleet) } });
    return result.stdout + result.stderr;
  };

  it('the preview at 20 and 400 devices, before and after the up', async () => {
    await step('prints the same few lines at 20 and at 400 devices, and no device id', async () => {
      // Everything is to be created, so the outputs are printed: before the per-device summary
      // became a secret output, each device added ~280 characters here. (With --diff the
      // deployments' device lists, inputs of the resources, would be printed too.)
      const small = await preview('small');
      const big = await preview('large');
      expect(big).toMatch(/^\s+devices\s*: "?\[secret\]"?$/m);
      expect(big).toMatch(/^\s+deviceCount\s*: 3\d\d$/m);
      for (const output of [small, big]) {
        expect(output.length).toBeLessThan(5000);
        expect(output).not.toContain(large.world.devices[0].id);
      }
      // What differs is a count (20 → 400 devices), not a line per device.
      expect(Math.abs(big.length - small.length)).toBeLessThan(20);
    });
    await step('prints a no-op preview of 400 devices in a few lines', async () => {
      await ws.ok(['up', '--yes', '--skip-preview', '--stack', 'production', '--config-file', configFile], { env: { FLEET_PATH: path.join(work, 'large') } });
      // As preview.yml runs it, with the diff.
      const output = await preview('large', ['--diff']);
      expect(output).toMatch(/Resources:\s+\d+ unchanged\s*$/m);
      expect(output.length).toBeLessThan(1000);
    });
  }, 480_000);
});
