// Benchmark: a rollout in waves on one ring of N devices (default 10,000) through the real
// Pulumi engine against the emulator, whose clock the benchmark moves on past each soak. Waves
// [1 %, 10 %, 100 %], a 30-minute soak. Each `up`: wall time, whether it changed Mender, and the
// Mender requests per endpoint (from the emulator's request log). Prints markdown tables.
//
// Run: npm run bench:rollout [-- --devices <n>]
// Not part of the test suite. Uses a throw-away backend, PULUMI_HOME and fleet folder.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startEmulator } from '../emulator';
import { deviceId } from './generated-fleet';
import { MUTATING, perEndpoint, RequestLogEntry } from './requests';

const repoRoot = path.resolve(__dirname, '..');
const TOKEN = 'bench-token';
const PASSPHRASE = 'mender-fleet-local-demo';
const TYPE = 'raspberrypi4';
const OLD = '2026-10-05-pi4-bookworm';
const NEW = '2026-11-02-pi4-bookworm';
const MINUTE = 60_000;

interface UpResult {
  label: string;
  code: number;
  seconds: number;
  requests: [string, number][];
  total: number;
  mutating: number;
  rollout: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { devices: { type: 'string', default: '10000' } } });
  const size = Number(values.devices);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-bench-rollout-'));
  const ids = Array.from({ length: size }, (_, i) => deviceId(i));
  const emulator = await startEmulator({
    world: { artifacts: [OLD, NEW].map((name) => ({ name, device_types: [TYPE] })), devices: ids.map((id) => ({ id, device_type: TYPE, artifact_name: OLD })), tokens: [TOKEN], users: [] },
    port: 0,
    timing: { pollIntervalMs: 30, stepMs: 20, tickMs: 10 },
  });
  try {
    const fleetDir = path.join(work, 'fleet');
    fs.mkdirSync(path.join(fleetDir, 'group_vars'), { recursive: true });
    fs.writeFileSync(path.join(fleetDir, 'inventory.yml'), ['all:', '  children:', '    pi4:', '      hosts:', ...ids.map((id) => `        ${id}:`), ''].join('\n'));
    fs.writeFileSync(path.join(fleetDir, 'group_vars', 'all.yml'), ['subscribed_branch: canary', 'os_image:', `  - device_type: ${TYPE}`, `    image_name: ${NEW}`, ''].join('\n'));
    const salt = /^encryptionsalt: .*$/m.exec(fs.readFileSync(path.join(repoRoot, 'Pulumi.canary.yaml'), 'utf8'))![0];
    const configFile = path.join(work, 'Pulumi.canary.yaml');
    fs.writeFileSync(
      configFile,
      ['config:', '  fleet:branch: canary', '  fleet:pollMilliseconds: 200', '  fleet:rollout:', '    waves: [{percent: 1}, {percent: 10}, {percent: 100}]', '    soakMinutes: 30', '    deviceTimeoutMinutes: 600', '    waitMinutes: 5', salt, ''].join('\n'),
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PULUMI_BACKEND_URL: `file://${path.join(work, 'state')}`,
      PULUMI_HOME: path.join(work, 'home'),
      PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
      MENDER_SERVER_URL: emulator.url,
      MENDER_ACCESS_TOKEN: TOKEN,
      FLEET_PATH: fleetDir,
    };
    fs.mkdirSync(path.join(work, 'state'), { recursive: true });
    const pulumi = (args: string[], log: string) =>
      new Promise<number>((resolve) => {
        const out = fs.openSync(log, 'w');
        const child = spawn('bash', [path.join(repoRoot, 'scripts', 'pulumi'), ...args, '--non-interactive'], { cwd: repoRoot, env, stdio: ['ignore', out, out] });
        child.on('exit', (c) => {
          fs.closeSync(out);
          resolve(c ?? 1);
        });
      });
    await pulumi(['stack', 'init', 'canary'], path.join(work, 'init.log'));
    const results: UpResult[] = [];
    const up = async (label: string) => {
      await fetch(`${emulator.url}/__emulator/requests`, { method: 'DELETE' });
      const log = path.join(work, `${results.length + 1}.log`);
      const t0 = performance.now();
      const code = await pulumi(['up', '--yes', '--stack', 'canary', '--config-file', configFile, '--message', label], log);
      const seconds = (performance.now() - t0) / 1000;
      const requests = (await (await fetch(`${emulator.url}/__emulator/requests`)).json()) as RequestLogEntry[];
      const outputs = await new Promise<string>((resolve) => {
        const child = spawn('bash', [path.join(repoRoot, 'scripts', 'pulumi'), 'stack', 'output', 'rollouts', '--json', '--stack', 'canary'], { cwd: repoRoot, env });
        let text = '';
        child.stdout.on('data', (c: Buffer) => (text += c.toString()));
        child.on('exit', () => resolve(text.trim()));
      });
      results.push({ label, code, seconds, requests: perEndpoint(requests), total: requests.length, mutating: requests.filter(MUTATING).length, rollout: outputs.replace(/\s+/g, ' ') });
      console.error(`  ${label}: exit ${code}, ${seconds.toFixed(1)} s, ${requests.length} requests (${requests.filter(MUTATING).length} mutating), rollouts ${outputs.replace(/\s+/g, ' ')}`);
    };
    const advance = (ms: number) => fetch(`${emulator.url}/__emulator/time`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advance_ms: ms }) });

    await up('1: wave 1 (1 %)');
    await up('2: within the soak');
    await advance(31 * MINUTE);
    await up('3: wave 2 (to 10 %)');
    await advance(31 * MINUTE);
    await up('4: wave 3 (the rest)');
    await up('5: done, nothing changed');

    console.log(`### A rollout in waves on one ring of ${size.toLocaleString('en')} devices\n`);
    console.log('| up | exit | wall (s) | requests | mutating | rollouts output after |');
    console.log('|---|---:|---:|---:|---:|---|');
    for (const r of results) console.log(`| ${r.label} | ${r.code} | ${r.seconds.toFixed(1)} | ${r.total} | ${r.mutating} | \`${r.rollout}\` |`);
    for (const r of results) {
      console.log(`\n#### ${r.label}: requests per endpoint\n`);
      console.log('| endpoint | requests |');
      console.log('|---|---:|');
      for (const [name, n] of r.requests) console.log(`| \`${name}\` | ${n} |`);
    }
  } finally {
    await emulator.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
