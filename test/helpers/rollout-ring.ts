// A canary ring of pi4 devices for the rollout scenarios: the emulator, a stack on a local
// backend, the fleet files and a stack file with a fleet:rollout policy, all in a temporary
// folder; the test moves the emulator's clock on (soaks and device timeouts are Mender's time).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { World } from '../../emulator';
import { EmulatorHandle, emulatorFor } from './emulator';
import { pulumiWorkspace, PulumiWorkspace, repoRoot } from './pulumi';

export const PI4 = 'pi4-v3-arm64';
export const DEPLOYMENTS = '/api/management/v1/deployments/deployments';

export interface RolloutRing {
  ws: PulumiWorkspace;
  emu: EmulatorHandle;
  configFile: string;
  /** The image Git gives the ring (group_vars/all.yml). */
  setImage(image: string): void;
  /** Rewrites the stack file's fleet:rollout (YAML lines, indented under it). */
  setPolicy(lines: string[]): void;
  up(message: string): Promise<{ code: number; stdout: string; stderr: string }>;
  advance(ms: number): Promise<unknown>;
  /** The artifact_name the device's inventory reports. */
  image(id: string): Promise<string | undefined>;
  deploymentsOf(artifact: string): Promise<{ id: string; name: string; artifact_name: string; created: string; status: string }[]>;
  devicesOf(deploymentId: string): Promise<string[]>;
  outputs(): Promise<{ rollouts: Record<string, string> }>;
  close(): Promise<void>;
}

export async function rolloutRing(options: { token: string; world: World; devices: string[]; image: string; policy: string[] }): Promise<RolloutRing> {
  const emu = await emulatorFor(options.world, options.token);
  const ws = pulumiWorkspace();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-rollout-'));
  const fleetDir = path.join(work, 'fleet');
  const write = (name: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(fleetDir, name)), { recursive: true });
    fs.writeFileSync(path.join(fleetDir, name), text);
  };
  const setImage = (image: string) => write('group_vars/all.yml', ['subscribed_branch: canary', 'os_image:', `  - device_type: ${PI4}`, `    image_name: ${image}`, ''].join('\n'));
  write('inventory.yml', ['all:', '  children:', '    pi4:', '      hosts:', ...options.devices.map((id) => `        ${id}:`), ''].join('\n'));
  setImage(options.image);
  const configFile = path.join(work, 'Pulumi.canary.yaml');
  const salt = /^encryptionsalt: .*$/m.exec(fs.readFileSync(path.join(repoRoot, 'Pulumi.canary.yaml'), 'utf8'))![0];
  const setPolicy = (lines: string[]) =>
    fs.writeFileSync(configFile, ['config:', '  fleet:branch: canary', '  fleet:pollMilliseconds: 100', '  fleet:rollout:', ...lines.map((l) => `    ${l}`), salt, ''].join('\n'));
  setPolicy(options.policy);
  Object.assign(ws.env, { PULUMI_CONFIG_PASSPHRASE: 'mender-fleet-local-demo', MENDER_SERVER_URL: emu.emulator.url, MENDER_ACCESS_TOKEN: options.token, FLEET_PATH: fleetDir });
  await ws.ok(['stack', 'init', 'canary']);
  return {
    ws,
    emu,
    configFile,
    setImage,
    setPolicy,
    up: (message) => ws.run(['up', '--yes', '--skip-preview', '--stack', 'canary', '--config-file', configFile, '--message', message]),
    advance: (ms) => emu.admin('POST', '/time', { advance_ms: ms }),
    image: async (id) => {
      const device = await emu.api<{ attributes: { name: string; value: string; scope: string }[] }>('GET', `/api/management/v1/inventory/devices/${id}`);
      return device.attributes.find((a) => a.scope === 'inventory' && a.name === 'artifact_name')?.value;
    },
    deploymentsOf: async (artifact) =>
      (await emu.api<{ id: string; name: string; artifact_name: string; created: string; status: string }[]>('GET', `${DEPLOYMENTS}?per_page=500`)).filter((d) => d.artifact_name === artifact),
    devicesOf: async (id) => (await emu.api<string[]>('GET', `${DEPLOYMENTS}/${id}/device_list`)).sort(),
    outputs: async () => JSON.parse((await ws.ok(['stack', 'output', '--json', '--stack', 'canary'])).stdout) as { rollouts: Record<string, string> },
    close: async () => {
      await ws.run(['stack', 'rm', 'canary', '--yes', '--force', '--preserve-config']);
      ws.dispose();
      await emu.emulator.close();
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}
