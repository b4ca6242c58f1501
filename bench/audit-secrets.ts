// Benchmark: the audit opening the secrets of past checkpoints through the engine
// (cli/checkpoint-secrets.ts). Seals checkpoints of configuration sets the way an up leaves
// them (import into a stack on a throw-away file backend), then times one openCheckpointSecrets
// over several of them. Prints a markdown table.
// Run: npm run bench:audit -- [--devices N] [--versions N]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Checkpoint, openCheckpointSecrets } from '../cli/checkpoint-secrets';
import { projectWorkspace } from '../cli/workspace';

const SIG = { '4dabf18193072939515e22adb298388d': '1b47061264138c4ac30d75fd1eb44270' };
const SET = 'pulumi-nodejs:dynamic/mender:DeviceConfigurationSet';
const PER_SET = 1000;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { devices: { type: 'string', default: '10000' }, versions: { type: 'string', default: '5' } } });
  const devices = Number(values.devices);
  const versions = Number(values.versions);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-bench-audit-'));
  const env = { ...process.env, PULUMI_BACKEND_URL: `file://${dir}/state`, PULUMI_CONFIG_PASSPHRASE: 'bench-passphrase', PULUMI_HOME: path.join(dir, 'home') };
  try {
    const workspace = await projectWorkspace(env, { workDir: dir, projectSettings: { name: 'fleet', runtime: 'nodejs' } });
    await workspace.createStack('canary');
    const providers = ((await workspace.exportStack('canary')).deployment as Checkpoint).secrets_providers;
    const id = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
    const sealStart = performance.now();
    const sealed: Checkpoint[] = [];
    for (let v = 0; v < versions; v++) {
      const all = Array.from({ length: devices }, (_, i) => id(i));
      const resources = [
        { urn: 'urn:pulumi:canary::fleet::pulumi:pulumi:Stack::fleet-canary', type: 'pulumi:pulumi:Stack', custom: false, outputs: { ring: 'canary', devices: { ...SIG, plaintext: JSON.stringify(Object.fromEntries(all.map((d) => [d, { group: 'kiosks', desiredImage: `os-${v}` }]))) } } },
        ...Array.from({ length: Math.ceil(devices / PER_SET) }, (_, s) => ({
          urn: `urn:pulumi:canary::fleet::${SET}::kiosks/kiosk.json#${s + 1}`,
          type: SET,
          custom: false,
          outputs: {
            devices: Object.fromEntries(all.slice(s * PER_SET, (s + 1) * PER_SET).map((d) => [d, { values: { kiosk_url: `https://k/${v}` }, secretValues: { ...SIG, plaintext: JSON.stringify({ kiosk_token: `token-${v}-${d}` }) } }])),
          },
        })),
      ];
      await workspace.importStack('canary', { version: 3, deployment: { manifest: { time: new Date().toISOString(), magic: '', version: '' }, secrets_providers: providers, resources } });
      sealed.push((await workspace.exportStack('canary')).deployment as Checkpoint);
    }
    const sealSeconds = (performance.now() - sealStart) / 1000;
    const secrets = sealed.length * (devices + 1);
    const start = performance.now();
    const opened = await openCheckpointSecrets(sealed, env, (w) => console.error(w));
    const seconds = (performance.now() - start) / 1000;
    const clear = opened.flatMap((c) => c!.resources ?? []).filter((r) => JSON.stringify(r.outputs).includes('"plaintext"')).length;
    console.log('| devices | checkpoints | sealed values | open (s) | resources opened | making the checkpoints (s) |');
    console.log('|---:|---:|---:|---:|---:|---:|');
    console.log(`| ${devices} | ${versions} | ${secrets} | ${seconds.toFixed(1)} | ${clear} | ${sealSeconds.toFixed(1)} |`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
