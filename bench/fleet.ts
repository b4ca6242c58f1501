// Benchmark: generated fleets of 100, 1,000 and 10,000 devices applied through the real Pulumi
// engine against the emulator. For each size and ring (stack): the first `up`, a no-op
// `preview` and a no-op `up`; wall time, peak memory of the pulumi process tree (sampled from
// /proc every 200 ms), and the Mender requests per endpoint (from the emulator's request log).
// Prints markdown tables.
//
// Run: npm run bench [-- 100 1000] [-- --parallel <n>] [-- --skip-first-checkpoints] [-- --keep] [-- --markdown <file>]
//      [-- --one-ring] [-- --configure-every <n>] [-- --image-change] [-- --devices-per-set <n>]
// Not part of the test suite. Uses a throw-away backend, PULUMI_HOME and fleet folder; the
// project's stack files are only read (their encryptionsalt is for mender-fleet-local-demo).
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse, stringify } from 'yaml';
import { startEmulator } from '../emulator';
import { DEVICE_TYPES, FleetShape, generateFleet, newImage, nextImage } from './generated-fleet';
import { endpoint, MUTATING, RequestLogEntry } from './requests';

const repoRoot = path.resolve(__dirname, '..');
const TOKEN = 'bench-token';
const PASSPHRASE = 'mender-fleet-local-demo';
const ALL_RINGS = ['canary', 'production'];
const SAMPLE_MS = 200;
/** The rollout watcher's poll (fleet:pollMilliseconds); the default 2000 ms would measure sleeping. */
const POLL_MS = 50;
/** Simulated devices: fast, so a first up measures our work and not the devices. */
const TIMING = { pollIntervalMs: 30, stepMs: 20, tickMs: 10 };

// ---- the pulumi process tree, sampled from /proc ------------------------------------------------

type Role = 'cli' | 'langhost' | 'program' | 'provider' | 'other';
const ROLES: Role[] = ['cli', 'langhost', 'program', 'provider', 'other'];

function readProc(pid: number, file: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined; // the process ended meanwhile
  }
}

function roleOf(pid: number): Role {
  const argv = (readProc(pid, 'cmdline') ?? '').split('\0').filter(Boolean);
  const exe = path.basename(argv[0] ?? '');
  if (exe === 'pulumi') return 'cli';
  if (exe === 'pulumi-language-nodejs') return 'langhost';
  if (exe === 'node' || exe.startsWith('node')) return argv.some((a) => a.includes('dynamic-provider')) ? 'provider' : 'program';
  return 'other';
}

function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProc(Number(entry), 'stat');
    if (!stat) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid)!.push(Number(entry));
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** CPU seconds (user + system) of a process so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number | undefined {
  const stat = readProc(pid, 'stat');
  if (!stat) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100;

interface MemoryPeaks {
  /** Peak of the summed RSS of the whole tree, MiB. */
  total: number;
  /** Peak summed RSS per role, MiB. */
  byRole: Record<Role, number>;
  /** Peak RSS of this process (the emulator runs in it), MiB. */
  emulator: number;
}

class TreeSampler {
  readonly peaks: MemoryPeaks = { total: 0, byRole: { cli: 0, langhost: 0, program: 0, provider: 0, other: 0 }, emulator: 0 };
  private readonly roles = new Map<number, Role>();
  /** Last CPU seconds seen per process: a process's CPU time is counted until it ends. */
  private readonly cpu = new Map<number, number>();
  private readonly emulatorCpu0 = process.cpuUsage();
  private timer?: NodeJS.Timeout;

  constructor(private readonly root: number) {}

  /** CPU seconds per role (as last sampled) and of this process (the emulator). */
  cpuByRole(): Record<Role | 'emulator', number> {
    const out: Record<Role | 'emulator', number> = { cli: 0, langhost: 0, program: 0, provider: 0, other: 0, emulator: 0 };
    for (const [pid, seconds] of this.cpu) out[this.roles.get(pid) ?? 'other'] += seconds;
    const used = process.cpuUsage(this.emulatorCpu0);
    out.emulator = (used.user + used.system) / 1e6;
    return out;
  }

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  sample(): void {
    const byRole: Record<Role, number> = { cli: 0, langhost: 0, program: 0, provider: 0, other: 0 };
    let total = 0;
    for (const pid of descendants(this.root)) {
      const rss = /VmRSS:\s+(\d+) kB/.exec(readProc(pid, 'status') ?? '');
      if (!rss) continue;
      // The role is read again until the process has exec'd into its final program.
      let role = this.roles.get(pid);
      if (!role || role === 'other') {
        role = roleOf(pid);
        this.roles.set(pid, role);
      }
      const cpu = cpuSeconds(pid);
      if (cpu !== undefined) this.cpu.set(pid, cpu);
      const mib = Number(rss[1]) / 1024;
      byRole[role] += mib;
      total += mib;
    }
    for (const r of ROLES) this.peaks.byRole[r] = Math.max(this.peaks.byRole[r], byRole[r]);
    this.peaks.total = Math.max(this.peaks.total, total);
    this.peaks.emulator = Math.max(this.peaks.emulator, process.memoryUsage().rss / 1024 / 1024);
  }
}

// ---- running and measuring one pulumi command ---------------------------------------------------

interface PhaseResult {
  size: number;
  ring: string;
  phase: string;
  code: number;
  seconds: number;
  memory: MemoryPeaks;
  /** CPU seconds per process role, and of the bench process (the emulator). */
  cpu: Record<Role | 'emulator', number>;
  load: [number, number];
  resources: string;
  changed: boolean;
  requests: Map<string, number>;
  requestTotal: number;
  mutating: number;
  /** Bytes the command printed (stdout and stderr). */
  outputBytes: number;
  logFile: string;
}

function resourcesSummary(output: string): { text: string; changed: boolean } {
  const tail = output.split(/^Resources:\s*$/m)[1] ?? '';
  const lines: string[] = [];
  for (const line of tail.split('\n').slice(0, 8)) {
    const m = /^\s+(\+-|[+~-])?\s*(\d+)\s+(.+?)\s*$/.exec(line);
    if (m) lines.push(`${m[2]} ${m[3]}`);
    else if (lines.length > 0) break;
  }
  const text = lines.join(', ');
  const changed = /\b(to create|created|to update|updated|to delete|deleted|to replace|replaced)\b/.test(text);
  return { text: text || '(no summary)', changed };
}

async function measure(
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
  emulatorUrl: string,
  label: { size: number; ring: string; phase: string },
): Promise<PhaseResult> {
  await fetch(`${emulatorUrl}/__emulator/requests`, { method: 'DELETE' });
  const out = fs.openSync(logFile, 'w');
  const loadBefore = os.loadavg()[0];
  const t0 = performance.now();
  const child = spawn('bash', [path.join(repoRoot, 'scripts', 'pulumi'), ...args, '--non-interactive'], { cwd: repoRoot, env, stdio: ['ignore', out, out] });
  const sampler = new TreeSampler(child.pid!);
  sampler.start();
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  const seconds = (performance.now() - t0) / 1000;
  sampler.stop();
  fs.closeSync(out);
  const loadAfter = os.loadavg()[0];

  const log = (await (await fetch(`${emulatorUrl}/__emulator/requests`)).json()) as RequestLogEntry[];
  const requests = new Map<string, number>();
  for (const r of log) requests.set(endpoint(r), (requests.get(endpoint(r)) ?? 0) + 1);
  const summary = resourcesSummary(fs.readFileSync(logFile, 'utf8'));
  const result: PhaseResult = {
    ...label,
    code,
    seconds,
    memory: sampler.peaks,
    cpu: sampler.cpuByRole(),
    load: [loadBefore, loadAfter],
    resources: summary.text,
    changed: summary.changed,
    requests,
    requestTotal: log.length,
    mutating: log.filter(MUTATING).length,
    outputBytes: fs.statSync(logFile).size,
    logFile,
  };
  const mem = result.memory;
  console.error(
    `  ${label.size} ${label.ring} ${label.phase}: exit ${code}, ${seconds.toFixed(1)} s, tree ${mem.total.toFixed(0)} MiB ` +
      `(cli ${mem.byRole.cli.toFixed(0)}, program ${mem.byRole.program.toFixed(0)}, provider ${mem.byRole.provider.toFixed(0)}), ` +
      `CPU s: cli ${result.cpu.cli.toFixed(0)}, program ${result.cpu.program.toFixed(0)}, provider ${result.cpu.provider.toFixed(0)}, emulator ${result.cpu.emulator.toFixed(0)}; ` +
      `${log.length} requests (${result.mutating} mutating), load ${loadBefore.toFixed(2)}→${loadAfter.toFixed(2)}; printed ${result.outputBytes} bytes; ${summary.text}`,
  );
  if (log.length >= 2_000_000) console.error('  (the request log holds at most 2,000,000 entries: counts are truncated)');
  if (code !== 0) console.error(`  FAILED: see ${logFile}`);
  return result;
}

// ---- one fleet size -----------------------------------------------------------------------------

function stackConfigFile(ring: string, fleetDir: string, file: string, devicesPerSet?: number): void {
  const stack = parse(fs.readFileSync(path.join(repoRoot, `Pulumi.${ring}.yaml`), 'utf8')) as { config?: Record<string, unknown>; encryptionsalt?: string };
  stack.config = { ...stack.config, 'fleet:path': fleetDir, 'fleet:pollMilliseconds': POLL_MS, ...(devicesPerSet ? { 'fleet:devicesPerConfigurationSet': devicesPerSet } : {}) };
  fs.writeFileSync(file, stringify(stack));
}

interface BenchOptions {
  keep: boolean;
  parallel?: number;
  skipFirstCheckpoints: boolean;
  shape: FleetShape;
  /** After the no-op steps: a new image for pi4 devices, then a preview of each ring. */
  imageChange: boolean;
  /** fleet:devicesPerConfigurationSet (default: the program's 1,000). */
  devicesPerSet?: number;
}

/** group_vars/all.yml with the pi4 devices wanting the next image. */
function changePi4Image(fleetDir: string): void {
  const file = path.join(fleetDir, 'group_vars', 'all.yml');
  const pi4 = DEVICE_TYPES[0].short;
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(newImage(pi4), nextImage(pi4)));
}

async function benchSize(size: number, options: BenchOptions): Promise<PhaseResult[]> {
  const { keep, parallel, skipFirstCheckpoints } = options;
  const rings = options.shape.oneRing ? ['canary'] : ALL_RINGS;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `fleet-bench-${size}-`));
  const fleetDir = path.join(tmp, 'fleet');
  const t0 = performance.now();
  const fleet = generateFleet(size, fleetDir, TOKEN, options.shape);
  console.error(
    `${size} devices: fleet in ${fleetDir} (${((performance.now() - t0) / 1000).toFixed(1)} s): ${fleet.configured} configured, ` +
      `${fleet.deviceCanary} reporting canary, ${fleet.gitCanary} canary in Git, ${fleet.outdated} on last month's image`,
  );
  const emulator = await startEmulator({ world: fleet.world, port: 0, timing: TIMING, requestLogLimit: 2_000_000 });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PULUMI_BACKEND_URL: `file://${path.join(tmp, 'backend')}`,
    PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
    PULUMI_HOME: path.join(tmp, 'pulumi-home'),
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    NO_COLOR: '1',
    MENDER_SERVER_URL: emulator.url,
    MENDER_ACCESS_TOKEN: TOKEN,
  };
  fs.mkdirSync(path.join(tmp, 'backend'));
  const results: PhaseResult[] = [];
  try {
    for (const ring of rings) {
      stackConfigFile(ring, fleetDir, path.join(tmp, `Pulumi.${ring}.yaml`), options.devicesPerSet);
      execFileSync('bash', [path.join(repoRoot, 'scripts', 'pulumi'), 'stack', 'init', ring, '--non-interactive'], { cwd: repoRoot, env, stdio: 'ignore' });
    }
    const p = parallel ? ['--parallel', String(parallel)] : [];
    // PULUMI_SKIP_CHECKPOINTS: the engine writes the state once at the end instead of after
    // every step (the file backend rewrites the whole state file each time).
    const firstEnv = skipFirstCheckpoints ? { PULUMI_SKIP_CHECKPOINTS: 'true' } : {};
    const phases: { phase: string; args: (ring: string) => string[]; env?: NodeJS.ProcessEnv; before?: () => void }[] = [
      { phase: skipFirstCheckpoints ? 'first up (no checkpoints)' : 'first up', env: firstEnv, args: (ring) => ['up', '--yes', '--skip-preview', ...p, '--message', `bench: first up of ${ring}`] },
      { phase: 'no-op preview', args: () => ['preview', '--diff', '--suppress-progress', ...p] },
      { phase: 'no-op up', args: (ring) => ['up', '--yes', '--skip-preview', ...p, '--message', `bench: no-op up of ${ring}`] },
      ...(options.imageChange ? [{ phase: 'image change (pi4) preview', before: () => changePi4Image(fleetDir), args: () => ['preview', '--suppress-progress', ...p] }] : []),
    ];
    for (const { phase, args, env: phaseEnv, before } of phases) {
      before?.();
      for (const ring of rings) {
        const configFile = path.join(tmp, `Pulumi.${ring}.yaml`);
        const logFile = path.join(tmp, `${phase.replace(/\W+/g, '-')}-${ring}.log`);
        results.push(await measure([...args(ring), '--stack', ring, '--config-file', configFile], { ...env, ...phaseEnv }, logFile, emulator.url, { size, ring, phase }));
      }
    }
  } finally {
    await emulator.close();
    if (!keep && results.every((r) => r.code === 0)) fs.rmSync(tmp, { recursive: true, force: true });
    else console.error(`  kept ${tmp}`);
  }
  return results;
}

// ---- report -------------------------------------------------------------------------------------

let parallel: number | undefined;
const mib = (n: number) => `${n.toFixed(0)} MiB`;

function report(results: PhaseResult[]): string {
  const lines: string[] = [];
  lines.push(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}.`);
  lines.push(
    `Engine parallelism ${parallel ?? '8 (the default)'}, fleet:pollMilliseconds ${POLL_MS}, emulator device poll ${TIMING.pollIntervalMs} ms, ` +
      `program ${(process.env.PULUMI_NODEJS_TRANSPILE_ONLY ?? 'true') === 'true' ? 'transpiled only (scripts/pulumi sets PULUMI_NODEJS_TRANSPILE_ONLY=true)' : 'type-checked by ts-node'}.`,
  );
  lines.push('');
  lines.push('| Devices | Stack | Step | Resources | Wall time | Peak RSS, tree | CLI | Program | Provider | Emulator | CPU s: CLI / program / provider / emulator | Requests (mutating) | Printed | Load 1 min |');
  lines.push('|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of results) {
    const m = r.memory;
    lines.push(
      `| ${r.size.toLocaleString('en')} | ${r.ring} | ${r.phase}${r.code === 0 ? '' : ' **failed**'}${r.phase.startsWith('no-op') && r.changed ? ' **changed**' : ''} | ${r.resources} | ${r.seconds.toFixed(1)} s | ${mib(m.total)} | ${mib(m.byRole.cli)} | ${mib(m.byRole.program)} | ${mib(m.byRole.provider)} | ${mib(m.emulator)} | ${[r.cpu.cli, r.cpu.program, r.cpu.provider, r.cpu.emulator].map((c) => c.toFixed(0)).join(' / ')} | ${r.requestTotal} (${r.mutating}) | ${(r.outputBytes / 1024).toFixed(1)} KiB | ${r.load[0].toFixed(2)} → ${r.load[1].toFixed(2)} |`,
    );
  }
  for (const size of [...new Set(results.map((r) => r.size))]) {
    const rows = results.filter((r) => r.size === size);
    const endpoints = [...new Set(rows.flatMap((r) => [...r.requests.keys()]))].sort((a, b) => a.split(' ')[1].localeCompare(b.split(' ')[1]) || a.localeCompare(b));
    lines.push('');
    lines.push(`Requests per endpoint, ${size.toLocaleString('en')} devices:`);
    lines.push('');
    lines.push(`| Endpoint | ${rows.map((r) => `${r.ring} ${r.phase}`).join(' | ')} |`);
    lines.push(`|---|${rows.map(() => '---:').join('|')}|`);
    for (const e of endpoints) lines.push(`| \`${e}\` | ${rows.map((r) => r.requests.get(e) ?? 0).join(' | ')} |`);
  }
  return lines.join('\n');
}

const stackFileHash = (ring: string): string => createHash('sha256').update(fs.readFileSync(path.join(repoRoot, `Pulumi.${ring}.yaml`))).digest('hex');

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const keep = argv.includes('--keep');
  const mdIndex = argv.indexOf('--markdown');
  const markdownFile = mdIndex >= 0 ? argv[mdIndex + 1] : undefined;
  const parallelIndex = argv.indexOf('--parallel');
  parallel = parallelIndex >= 0 ? Number(argv[parallelIndex + 1]) : undefined;
  const sizes = argv.filter((a, i) => /^\d+$/.test(a.replace(/[,_]/g, '')) && !['--markdown', '--parallel', '--configure-every', '--devices-per-set'].includes(argv[i - 1])).map((a) => Number(a.replace(/[,_]/g, '')));
  const chosen = sizes.length > 0 ? sizes : [100, 1000, 10000];
  const stackHashes = new Map(ALL_RINGS.map((ring) => [ring, stackFileHash(ring)]));
  const everyIndex = argv.indexOf('--configure-every');
  const options: BenchOptions = {
    keep,
    parallel,
    skipFirstCheckpoints: argv.includes('--skip-first-checkpoints'),
    shape: { oneRing: argv.includes('--one-ring'), configureEvery: everyIndex >= 0 ? Number(argv[everyIndex + 1]) : undefined },
    imageChange: argv.includes('--image-change'),
    devicesPerSet: argv.includes('--devices-per-set') ? Number(argv[argv.indexOf('--devices-per-set') + 1]) : undefined,
  };
  const results: PhaseResult[] = [];
  for (const size of chosen) results.push(...(await benchSize(size, options)));
  const text = report(results);
  console.log(text);
  if (markdownFile) fs.writeFileSync(markdownFile, `${text}\n`);
  const changed = ALL_RINGS.filter((ring) => stackFileHash(ring) !== stackHashes.get(ring));
  if (changed.length > 0) console.error(`warning: the project's stack file(s) changed during the benchmark: ${changed.map((r) => `Pulumi.${r}.yaml`).join(', ')}`);
  if (results.some((r) => r.code !== 0)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
