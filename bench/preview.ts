// Benchmark: what a pull request's preview costs. A no-op `pulumi preview` of the demo's canary
// ring (fleet/, demo/world.yaml, after one `up`) against the same preview of a bare JavaScript
// program that exports one value, through the same `pulumi` binary and language host, run in
// turn (A B A B …) so that a drift of the machine's speed hits both. Also the canary preview
// with the program loaded through ts-node (MENDER_FLEET_TS_NODE=1), i.e. without the compiled
// dist/ of scripts/build; and the floor, as many dynamic resources as the canary ring whose
// provider does nothing, as Pulumi runs it and with this project's start-up measures. Prints the
// medians of wall and CPU seconds (the CPU of the whole process tree, from /usr/bin/time) and the
// ratios; then the same for `fleet plan` and `fleet status` of that stack.
//
// Run: npm run bench:preview [-- --runs <n>]
// Not part of the test suite. Uses a throw-away backend and PULUMI_HOME.
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmulator } from '../emulator';

const repoRoot = path.resolve(__dirname, '..');
// The demo world's personal access token (demo/world.yaml).
const TOKEN = 'demo-personal-access-token';
const PASSPHRASE = 'mender-fleet-local-demo';

interface Sample { wall: number; cpu: number }

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs a command without blocking this process, whose event loop serves the emulator. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${path.basename(command)} ${args.join(' ')} in ${cwd} failed:\n${stdout}\n${stderr}`)) : resolve());
  });
}

/** One run of `pulumi <args>` in `cwd`, timed by /usr/bin/time (wall, and user + sys of the whole tree). */
async function timed(pulumi: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Sample> {
  const out = path.join(os.tmpdir(), `bench-preview-${process.pid}.time`);
  await run('/usr/bin/time', ['-f', '%e %U %S', '-o', out, pulumi, ...args], cwd, env);
  const [wall, user, sys] = fs.readFileSync(out, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { wall, cpu: user + sys };
}

async function main() {
  const runsAt = process.argv.indexOf('--runs');
  const runs = runsAt > 0 ? Number(process.argv[runsAt + 1]) : 5;
  const bin = execFileSync('bash', [path.join(repoRoot, 'scripts', 'engine'), '--quiet'], { encoding: 'utf8' }).trim().split('\n').pop()!;
  const pulumi = path.join(bin, 'pulumi');
  execFileSync('bash', [path.join(repoRoot, 'scripts', 'build')], { stdio: 'inherit' });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-preview-'));
  const emulator = await startEmulator({ world: path.join(repoRoot, 'demo', 'world.yaml'), port: 0, timing: { pollIntervalMs: 30, stepMs: 20 } });
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: `${bin}${path.delimiter}${process.env.PATH}`,
      PULUMI_HOME: path.join(work, 'home'),
      PULUMI_BACKEND_URL: `file://${path.join(work, 'state')}`,
      PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
      PULUMI_SKIP_UPDATE_CHECK: 'true',
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
      MENDER_SERVER_URL: emulator.url,
      MENDER_ACCESS_TOKEN: TOKEN,
    };
    fs.mkdirSync(path.join(work, 'state'));
    // The demo's canary stack, applied once: its preview then changes nothing.
    await run(pulumi, ['stack', 'init', 'canary', '--non-interactive'], repoRoot, env);
    await run(pulumi, ['up', '--yes', '--skip-preview', '--stack', 'canary', '--non-interactive', '--suppress-progress'], repoRoot, env);
    /**
     * A JavaScript project of its own in `work` with the project's node_modules, its one stack
     * applied: `nodeargs` for the program, and the preloads of its dynamic provider, if any (the
     * plugin wrapper of scripts/engine runs a program folder's bin/dynamic-provider.js).
     */
    const project = async (name: string, program: string, preloads: string[] = []) => {
      const dir = path.join(work, name);
      fs.mkdirSync(path.join(dir, 'bin'), { recursive: true });
      const nodeargs = preloads.length ? `    nodeargs: ${preloads.map((p) => `--require ${p}`).join(' ')}\n` : '';
      fs.writeFileSync(path.join(dir, 'Pulumi.yaml'), `name: ${name}\nruntime:\n  name: nodejs\n  options:\n    typescript: false\n${nodeargs}`);
      fs.writeFileSync(path.join(dir, 'package.json'), `{"name":"${name}","main":"index.js"}\n`);
      fs.writeFileSync(path.join(dir, 'index.js'), program);
      if (preloads.length) {
        fs.writeFileSync(path.join(dir, 'bin', 'dynamic-provider.js'), preloads.map((p) => `require(${JSON.stringify(p)});\n`).join('') + "require('@pulumi/pulumi/cmd/dynamic-provider');\n");
      }
      fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
      await run(pulumi, ['stack', 'init', name, '--non-interactive'], dir, env);
      await run(pulumi, ['up', '--yes', '--skip-preview', '--stack', name, '--non-interactive'], dir, env);
      return dir;
    };
    // The bare program: one exported value.
    const bare = await project('bare', 'exports.value = 1;\n');

    // The floor: what any program of dynamic resources pays on this engine. As many resources as
    // the canary ring, with a provider that does nothing (no modules, no Mender), once as Pulumi
    // runs it (its own dynamic provider host) and once with this project's start-up measures
    // (bin/defer-closures.js and bin/skip-source-maps.js in the program and the provider).
    const checkpoint = JSON.parse(execFileSync(pulumi, ['stack', 'export', '--stack', 'canary'], { cwd: repoRoot, env, encoding: 'utf8' })) as { deployment: { resources: { type: string }[] } };
    const dynamicResources = checkpoint.deployment.resources.filter((r) => r.type.startsWith('pulumi-nodejs:dynamic')).length;
    const floorProvider = 'exports.handler = function () { return { check: async (olds, news) => ({ inputs: news }), diff: async () => ({ changes: false }), create: async (inputs) => ({ id: "x", outs: inputs }) }; };\n';
    const floorProgram = [
      "const pulumi = require('@pulumi/pulumi');",
      `const provider = ${JSON.stringify(floorProvider)};`,
      `for (let i = 0; i < ${dynamicResources}; i++) new pulumi.CustomResource('pulumi-nodejs:dynamic:Resource', 'r' + i, { __provider: provider, value: i });`,
      'exports.value = 1;',
      '',
    ].join('\n');
    const floor = await project('floor', floorProgram);
    const floorMeasures = await project('floor-measures', floorProgram, ['defer-closures.js', 'skip-source-maps.js'].map((f) => path.join(repoRoot, 'bin', f)));

    const preview = (stack: string) => ['preview', '--stack', stack, '--non-interactive', '--suppress-progress'];
    const kinds = {
      'canary (compiled)': () => timed(pulumi, preview('canary'), repoRoot, env),
      'canary (ts-node)': () => timed(pulumi, preview('canary'), repoRoot, { ...env, MENDER_FLEET_TS_NODE: '1' }),
      [`floor: ${dynamicResources} dynamic resources that do nothing`]: () => timed(pulumi, preview('floor'), floor, env),
      'floor, with the start-up measures': () => timed(pulumi, preview('floor-measures'), floorMeasures, env),
      'bare JavaScript program': () => timed(pulumi, preview('bare'), bare, env),
    };
    const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
    for (const once of Object.values(kinds)) await once(); // warm-up
    for (let i = 0; i < runs; i++) for (const [kind, once] of Object.entries(kinds)) samples[kind].push(await once());

    const bareWall = median(samples['bare JavaScript program'].map((s) => s.wall));
    const bareCpu = median(samples['bare JavaScript program'].map((s) => s.cpu));
    console.log(`\nNo-op preview, medians of ${runs} runs each (${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}):\n`);
    console.log('| program | wall | CPU (whole tree) | wall / bare | CPU / bare |');
    console.log('| --- | --- | --- | --- | --- |');
    for (const [kind, list] of Object.entries(samples)) {
      const wall = median(list.map((s) => s.wall));
      const cpu = median(list.map((s) => s.cpu));
      console.log(`| ${kind} | ${wall.toFixed(2)} s | ${cpu.toFixed(2)} s | ${(wall / bareWall).toFixed(2)} | ${(cpu / bareCpu).toFixed(2)} |`);
    }

    // What the pull request's comment and a look at the ring cost: the fleet command as a user
    // runs it (npx fleet …, the engine resolved by scripts/engine), after the same up.
    const fleet = (...args: string[]) => () => timed(process.execPath, [path.join(repoRoot, 'bin', 'fleet.js'), ...args, '--stack', 'canary'], repoRoot, env);
    const commands = { 'fleet plan': fleet('plan'), 'fleet status': fleet('status') };
    const fleetSamples: Record<string, Sample[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
    for (const once of Object.values(commands)) await once(); // warm-up
    for (let i = 0; i < runs; i++) for (const [command, once] of Object.entries(commands)) fleetSamples[command].push(await once());
    console.log(`\nThe fleet command on the same stack, medians of ${runs} runs each:\n`);
    console.log('| command | wall | CPU (whole tree) |');
    console.log('| --- | --- | --- |');
    for (const [command, list] of Object.entries(fleetSamples)) {
      console.log(`| \`${command} --stack canary\` | ${median(list.map((x) => x.wall)).toFixed(2)} s | ${median(list.map((x) => x.cpu)).toFixed(2)} s |`);
    }
  } finally {
    await emulator.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
