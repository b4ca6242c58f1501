// The audit opens the secrets of a DIY backend's past checkpoints through the engine
// (cli/checkpoint-secrets.ts) instead of a secrets provider of its own: a checkpoint sealed with
// the stack's passphrase comes back in clear; with a wrong passphrase it stays sealed, and the
// warning says why without a value.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Checkpoint, openCheckpointSecrets } from '../../cli/checkpoint-secrets';
import { pulumiWorkspace, PulumiWorkspace } from '../helpers/pulumi';

const SIG = { '4dabf18193072939515e22adb298388d': '1b47061264138c4ac30d75fd1eb44270' };
const SET = 'pulumi-nodejs:dynamic/mender:DeviceConfigurationSet';
const DEVICE = 'c0ffee01-0000-4000-8000-000000000001';

describe('secrets of past checkpoints, opened by the engine', () => {
  let ws: PulumiWorkspace;
  let projectDir: string;
  let sealed: Checkpoint;
  const stackDevices = { [DEVICE]: { group: 'kiosks', desiredImage: 'pi4-2026.11' } };
  const stackOutputs = { ring: 'canary', devices: { ...SIG, plaintext: JSON.stringify(stackDevices) } };
  const plainOutputs = { group: 'kiosks', devices: { [DEVICE]: { values: { kiosk_url: 'https://k' }, secretValues: { ...SIG, plaintext: JSON.stringify({ kiosk_token: 'hunter2-token' }) } } } };

  /** A stack's checkpoint as an up would have left it: the stack's own provider seals what is imported. */
  async function sealedCheckpoint(stack: string, env: NodeJS.ProcessEnv): Promise<Checkpoint> {
    const opts = { cwd: projectDir, env };
    await ws.ok(['stack', 'init', stack], opts);
    const providers = (JSON.parse((await ws.ok(['stack', 'export', '--stack', stack], opts)).stdout) as { deployment: Checkpoint }).deployment.secrets_providers;
    const file = path.join(projectDir, `${stack}.json`);
    const resources = [
      { urn: `urn:pulumi:${stack}::fleet::pulumi:pulumi:Stack::fleet-${stack}`, type: 'pulumi:pulumi:Stack', custom: false, outputs: stackOutputs },
      { urn: `urn:pulumi:${stack}::fleet::${SET}::kiosks/kiosk.json`, type: SET, custom: false, parent: `urn:pulumi:${stack}::fleet::pulumi:pulumi:Stack::fleet-${stack}`, outputs: plainOutputs },
    ];
    fs.writeFileSync(file, JSON.stringify({ version: 3, deployment: { manifest: { time: new Date().toISOString(), magic: '', version: '' }, secrets_providers: providers, resources } }));
    await ws.ok(['stack', 'import', '--file', file, '--stack', stack], opts);
    const checkpoint = (JSON.parse((await ws.ok(['stack', 'export', '--stack', stack], opts)).stdout) as { deployment: Checkpoint }).deployment;
    expect(JSON.stringify(checkpoint)).not.toContain('hunter2-token');
    expect(JSON.stringify(checkpoint)).toContain('"ciphertext"');
    return checkpoint;
  }

  beforeAll(async () => {
    ws = pulumiWorkspace();
    projectDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-checkpoint-'));
    fs.writeFileSync(path.join(projectDir, 'Pulumi.yaml'), 'name: fleet\nruntime: nodejs\n');
    sealed = await sealedCheckpoint('canary', ws.env);
  });

  afterAll(() => {
    ws?.dispose();
    fs.rmSync(projectDir, { recursive: true, force: true });
  });

  it('opens a checkpoint sealed with the passphrase: the secret in clear, everything else as it was', async () => {
    const warnings: string[] = [];
    const [opened] = await openCheckpointSecrets([sealed], ws.env, (w) => warnings.push(w));
    expect(warnings).toEqual([]);
    expect(opened!.resources!.map((r) => [r.urn, r.type])).toEqual(sealed.resources!.map((r) => [r.urn, r.type]));
    // A whole output sealed (the stack's devices) and one inside a map (each device's secret values).
    const stack = opened!.resources![0].outputs as { ring: string; devices: { plaintext: string } };
    expect(stack.ring).toBe('canary');
    expect(stack.devices).toMatchObject(SIG);
    // The engine writes the JSON with its keys sorted.
    expect(JSON.parse(stack.devices.plaintext)).toEqual(stackDevices);
    expect(opened!.resources![1].outputs).toEqual(plainOutputs);
    expect(sealed.resources![0].outputs!.ring).toBe('canary');
  });

  it('opens, without a passphrase set, a local backend\'s checkpoint sealed with the demo passphrase the CLI would use there', async () => {
    const unset = { ...ws.env };
    delete unset.PULUMI_CONFIG_PASSPHRASE;
    const demo = await sealedCheckpoint('demo', { ...unset, PULUMI_CONFIG_PASSPHRASE: 'mender-fleet-local-demo' });
    const warnings: string[] = [];
    const [opened] = await openCheckpointSecrets([demo], unset, (w) => warnings.push(w));
    expect(warnings).toEqual([]);
    expect(opened!.resources![1].outputs).toEqual(plainOutputs);
  });

  it('leaves the checkpoint sealed with a wrong passphrase, and says so without a value', async () => {
    const warnings: string[] = [];
    const [kept, none] = await openCheckpointSecrets([sealed, undefined], { ...ws.env, PULUMI_CONFIG_PASSPHRASE: 'not-the-passphrase' }, (w) => warnings.push(w));
    expect(kept).toEqual(sealed);
    expect(none).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^the engine could not open the secrets of 2 resource\(s\) in the stack's checkpoints, so changes of secret values are not compared: .*passphrase/);
    expect(warnings[0]).not.toContain('not-the-passphrase');
  });
});
