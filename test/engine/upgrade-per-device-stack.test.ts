// A stack applied before configurations were batched (one DeviceConfiguration per device; exported
// at commit 60c0b06, see test/fixtures/per-device-stack/README.md) moves to DeviceConfigurationSet
// with a plain `up`: the sets are created from what Mender already holds and reports, the old
// resources are deleted without clearing anything (clearOnDelete was never set by the program),
// and no request changes anything in Mender: no deployment, no configuration reaches a device.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseWorld, RunningEmulator, startEmulator } from '../../emulator';
import { LoggedRequest, mutating } from '../helpers/emulator';
import { pulumiWorkspace, PulumiWorkspace, repoRoot } from '../helpers/pulumi';
import { step } from '../helpers/step';

const TOKEN = 'demo-personal-access-token';
const FIXTURE = path.join(repoRoot, 'test', 'fixtures', 'per-device-stack');
const world = parseWorld(fs.readFileSync(path.join(repoRoot, 'demo', 'world.yaml'), 'utf8'), 'demo/world.yaml');

interface Exported {
  deployment: { resources: { type: string; urn: string }[] };
}
const typesOf = (exported: Exported) => exported.deployment.resources.map((r) => r.type.replace('pulumi-nodejs:dynamic/mender:', '')).filter((t) => !t.startsWith('pulumi'));

describe('upgrading a stack of per-device configurations', () => {
  let ws: PulumiWorkspace;
  let emulator: RunningEmulator;
  let work: string;
  const requests = async (): Promise<LoggedRequest[]> => (await fetch(`${emulator.url}/__emulator/requests`)).json() as Promise<LoggedRequest[]>;
  const clearRequests = () => fetch(`${emulator.url}/__emulator/requests`, { method: 'DELETE' });

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-upgrade-'));
    fs.copyFileSync(path.join(FIXTURE, 'emulator-state.json'), path.join(work, 'emulator-state.json'));
    emulator = await startEmulator({ world, port: 0, statePath: path.join(work, 'emulator-state.json') });
    ws = pulumiWorkspace();
    Object.assign(ws.env, { PULUMI_CONFIG_PASSPHRASE: 'mender-fleet-local-demo', MENDER_SERVER_URL: emulator.url, MENDER_ACCESS_TOKEN: TOKEN });
    for (const stack of ['canary', 'production']) {
      await ws.ok(['stack', 'init', stack]);
      await ws.ok(['stack', 'import', '--stack', stack, '--file', path.join(FIXTURE, `${stack}.stack.json`)]);
    }
  });

  afterAll(async () => {
    for (const stack of ['canary', 'production']) await ws?.run(['stack', 'rm', stack, '--yes', '--force', '--preserve-config']);
    ws?.dispose();
    await emulator?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('two stacks of per-device configurations moved to sets by up', async () => {
    await step('holds one DeviceConfiguration per configured device before the upgrade', async () => {
      const exported = JSON.parse((await ws.ok(['stack', 'export', '--stack', 'production'])).stdout) as Exported;
      expect(typesOf(exported).filter((t) => t === 'DeviceConfiguration')).toHaveLength(2);
    });
    await step('previews the move: sets created, per-device resources deleted, nothing sent', async () => {
      await clearRequests();
      const { stdout } = await ws.ok(['preview', '--stack', 'production']);
      expect(stdout).toContain('mender:DeviceConfigurationSet pi3/kiosk.json create');
      expect(stdout).toContain('mender:DeviceConfigurationSet pi4/github-runner.json create');
      expect(stdout).toContain('mender:DeviceConfiguration f4580afc-7195-4c8b-b35a-e0248e6bd894 delete');
      expect(stdout).toMatch(/\+ 2 to create\s+- 2 to delete/);
      expect(mutating(await requests())).toEqual([]);
    });
    await step('moves both stacks with up alone, without a mutating request to Mender', async () => {
      for (const stack of ['canary', 'production']) {
        await clearRequests();
        await ws.ok(['up', '--yes', '--skip-preview', '--stack', stack]);
        expect(mutating(await requests())).toEqual([]);
        const exported = JSON.parse((await ws.ok(['stack', 'export', '--stack', stack])).stdout) as Exported;
        expect(typesOf(exported)).not.toContain('DeviceConfiguration');
        expect(typesOf(exported)).toContain('DeviceConfigurationSet');
      }
    });
    await step('has nothing left to do afterwards', async () => {
      for (const stack of ['canary', 'production']) {
        await clearRequests();
        const { stdout } = await ws.ok(['preview', '--stack', stack]);
        expect(stdout).not.toMatch(/to (create|update|delete|replace)/);
        expect(mutating(await requests())).toEqual([]);
      }
    });
  }, 960_000);
});
