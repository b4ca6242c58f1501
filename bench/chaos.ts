// `npm run chaos [-- --trials N]`: a fault matrix (not a test). One ring of 50 devices against
// the emulator CLI (a process of its own, with a --state file), through the real engine. Each
// trial rolls a new image and configuration with a random fault during `up`, then runs `fleet
// recover` and `up` until one succeeds (at most 3), and checks through Mender's API: every device
// runs the image and reports the configuration, no device has two software deployments of one
// artifact, and a further `up` sends no mutating request.
import { ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { pulumiWorkspace, PulumiWorkspace, repoRoot, initResourcesStack } from '../test/helpers/pulumi';

const program = path.join(repoRoot, 'test', 'fixtures', 'resources-program');
const STACK = 'chaos';
const TOKEN = 'chaos-bench-token-5e2a71';
const DEVICES = 50;
const DEPLOYMENTS = '/api/management/v1/deployments/deployments';
const FAULTS = ['kill', '429', '503', 'reset', 'restart', 'offline'] as const;
type FaultKind = (typeof FAULTS)[number];

const trialsArg = process.argv.indexOf('--trials');
const TRIALS = trialsArg > 0 ? Number(process.argv[trialsArg + 1]) : 20;
const deviceIds = Array.from({ length: DEVICES }, (_, i) => `c0a0${String(i).padStart(4, '0')}-0000-4000-8000-${String(i).padStart(12, '0')}`);
const artifact = (trial: number) => `chaos-img-${trial}`;
const random = (n: number) => Math.floor(Math.random() * n);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Logged {
  method: string;
  path: string;
  status: number;
}

class Emulator {
  child?: ChildProcess;
  url = '';
  constructor(
    private readonly world: string,
    private readonly state: string,
    private port = 0,
  ) {}

  async start(): Promise<void> {
    const child = spawn('node', [path.join(repoRoot, 'bin', 'fleet.js'), 'emulator', '--port', String(this.port), '--world', this.world, '--state', this.state, '--poll-ms', '300'], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.child = child;
    this.url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (c: Buffer) => {
        const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(c.toString());
        if (m) resolve(m[1]);
      });
      child.on('exit', (code) => reject(new Error(`the emulator exited (${code}) before listening`)));
    });
    this.port = Number(new URL(this.url).port);
  }

  /** Stops it (SIGTERM: it saves its state and closes); started again from the state file. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  async call<T>(method: string, p: string, body?: unknown, auth = true): Promise<T> {
    const res = await fetch(`${this.url}${p}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(auth ? { authorization: `Bearer ${TOKEN}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  admin<T>(method: string, p: string, body?: unknown): Promise<T> {
    return this.call<T>(method, `/__emulator${p}`, body, false);
  }
}

function mutating(requests: Logged[]): Logged[] {
  return requests.filter((r) => r.method !== 'GET' && r.method !== 'HEAD' && !(r.method === 'POST' && /\/inventory\/filters\/search$|\/useradm\/auth\/login$/.test(r.path)));
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: program, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: stdout + stderr }));
  });
}

/** `up` in its own process group; `during` injects the fault while it runs. */
async function upWith(ws: PulumiWorkspace, during: (up: ChildProcess) => Promise<void>): Promise<number | null> {
  const up = spawn('bash', [path.join(repoRoot, 'scripts', 'pulumi'), 'up', '--yes', '--stack', STACK, '--non-interactive'], { cwd: program, env: ws.env, detached: true, stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => up.on('exit', (code) => resolve(code)));
  await during(up);
  return exited;
}

async function waitFor(emu: Emulator, up: ChildProcess, what: (r: Logged) => boolean, timeoutMs = 120_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && up.exitCode === null) {
    if ((await emu.admin<Logged[]>('GET', '/requests')).some(what)) return true;
    await sleep(100);
  }
  return false;
}

async function injectFault(kind: FaultKind, emu: Emulator, up: ChildProcess): Promise<void> {
  const endpoints = ['/api/management/v2/deployments/deployments', '/api/management/v2/inventory/filters/search', '/api/management/v1/deployments/deployments/[^/]+/statistics', '/api/management/v1/deviceconfig/configurations/device/[^/]+$', '/api/management/v1/deployments/deployments$'];
  const created = (r: Logged) => r.method === 'POST' && r.path === DEPLOYMENTS && r.status === 201;
  switch (kind) {
    case 'kill': {
      // At a random moment of the update: its process group only, as a lost runner would be.
      await sleep(3000 + random(25_000));
      if (up.exitCode === null) process.kill(-up.pid!, 'SIGKILL');
      return;
    }
    case '429':
    case '503': {
      const endpoint = endpoints[random(endpoints.length)];
      await emu.admin('POST', '/faults', kind === '429' ? { path: endpoint, count: 3 + random(5), status: 429, retry_after: 1 } : { path: endpoint, count: 3 + random(5), status: 503 });
      return;
    }
    case 'reset':
      await emu.admin('POST', '/faults', { method: 'POST', path: '/api/management/v1/deployments/deployments$', count: 1, reset: true });
      return;
    case 'restart':
      if (await waitFor(emu, up, created)) await emu.restart();
      return;
    case 'offline': {
      const device = deviceIds[random(DEVICES)];
      await emu.admin('POST', `/devices/${device}/behavior`, { offline: true });
      await waitFor(emu, up, created);
      await sleep(2000 + random(5000));
      await emu.admin('POST', `/devices/${device}/behavior`, {});
      return;
    }
  }
}

async function check(emu: Emulator, trial: number): Promise<{ converged: boolean; duplicates: number; problems: string[] }> {
  const problems: string[] = [];
  const devices = await emu.call<{ id: string; attributes: { name: string; value: string; scope: string }[] }[]>('GET', '/api/management/v1/inventory/devices?per_page=500');
  for (const id of deviceIds) {
    const d = devices.find((x) => x.id === id);
    const running = d?.attributes.find((a) => a.scope === 'inventory' && a.name === 'artifact_name')?.value;
    if (running !== artifact(trial)) problems.push(`${id} runs ${running}`);
    const config = await emu.call<{ reported: Record<string, string> }>('GET', `/api/management/v1/deviceconfig/configurations/device/${id}`);
    if (config.reported.trial !== String(trial)) problems.push(`${id} reports trial ${config.reported.trial}`);
  }
  const software = (await emu.call<{ id: string; artifact_name: string; type?: string }[]>('GET', `${DEPLOYMENTS}?per_page=500`)).filter((d) => d.type !== 'configuration');
  const pairs = new Map<string, number>();
  for (const d of software) for (const id of await emu.call<string[]>('GET', `${DEPLOYMENTS}/${d.id}/device_list`)) pairs.set(`${id} ${d.artifact_name}`, (pairs.get(`${id} ${d.artifact_name}`) ?? 0) + 1);
  const duplicates = [...pairs.values()].filter((n) => n > 1).length;
  return { converged: problems.length === 0, duplicates, problems };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-chaos-'));
  const world = path.join(dir, 'world.yaml');
  fs.writeFileSync(
    world,
    stringify({
      artifacts: Array.from({ length: TRIALS + 1 }, (_, i) => ({ name: artifact(i), device_types: ['pi4-v3-arm64'] })),
      devices: deviceIds.map((id) => ({ id, device_type: 'pi4-v3-arm64', artifact_name: artifact(0) })),
      tokens: [TOKEN],
      users: [],
    }),
  );
  const emu = new Emulator(world, path.join(dir, 'state.json'));
  const ws = pulumiWorkspace();
  let converged = 0;
  let duplicates = 0;
  let mutatingFinal = 0;
  try {
    await emu.start();
    const desiredFile = path.join(dir, 'desired.json');
    await initResourcesStack(ws, { stack: STACK, desiredFile, serverUrl: emu.url, token: TOKEN });
    for (let trial = 1; trial <= TRIALS; trial++) {
      fs.writeFileSync(
        desiredFile,
        JSON.stringify({
          images: [{ name: artifact(trial), deviceTypes: ['pi4-v3-arm64'] }],
          deployments: [{ name: 'ring', artifactName: artifact(trial), devices: deviceIds, rollout: { timeoutSeconds: 180, pollSeconds: 0.5 } }],
          configurations: deviceIds.map((deviceId) => ({ deviceId, values: { trial: String(trial) } })),
        }),
      );
      const fault = FAULTS[random(FAULTS.length)];
      await emu.admin('DELETE', '/requests');
      const started = Date.now();
      const firstCode = await upWith(ws, (up) => injectFault(fault, emu, up));
      await emu.admin('DELETE', '/faults');
      let attempts = 0;
      let ok = firstCode === 0;
      const recoverLines: string[] = [];
      while (!ok && attempts < 3) {
        attempts++;
        const rec = await run('node', [path.join(repoRoot, 'bin', 'fleet.js'), 'recover', '--stack', STACK, '--cwd', program], ws.env);
        recoverLines.push(...rec.output.split('\n').filter((l) => /stopped|removed/.test(l)));
        ok = (await run('bash', [path.join(repoRoot, 'scripts', 'pulumi'), 'up', '--yes', '--stack', STACK, '--non-interactive'], ws.env)).code === 0;
      }
      const result = ok ? await check(emu, trial) : { converged: false, duplicates: 0, problems: ['no up succeeded'] };
      await emu.admin('DELETE', '/requests');
      const final = await run('bash', [path.join(repoRoot, 'scripts', 'pulumi'), 'up', '--yes', '--stack', STACK, '--non-interactive'], ws.env);
      const finalMutating = mutating(await emu.admin<Logged[]>('GET', '/requests')).length + (final.code === 0 ? 0 : 1);
      if (result.converged) converged++;
      duplicates += result.duplicates;
      mutatingFinal += finalMutating;
      console.log(
        `trial ${trial}: ${fault.padEnd(7)} first up ${firstCode === 0 ? 'ok' : `failed (${firstCode ?? 'killed'})`}, recover+up ×${attempts}${recoverLines.length ? ` (recover: ${recoverLines.length} removed/stopped)` : ''}: ${result.converged ? 'converged' : `NOT converged: ${result.problems.slice(0, 3).join('; ')}`}, ${result.duplicates} duplicate, ${finalMutating} mutating on the final up (${Math.round((Date.now() - started) / 1000)} s)`,
      );
    }
    console.log(`chaos: ${converged}/${TRIALS} converged, ${duplicates} duplicate deployments, ${mutatingFinal} mutating requests on the final up`);
  } finally {
    await run('bash', [path.join(repoRoot, 'scripts', 'pulumi'), 'stack', 'rm', STACK, '--yes', '--force', '--non-interactive'], ws.env);
    // Whatever a killed update left that recover did not reach.
    for (const name of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
      try {
        if (fs.readFileSync(`/proc/${name}/environ`, 'latin1').includes(`PULUMI_BACKEND_URL=file://${ws.backendDir}\0`)) process.kill(Number(name), 'SIGKILL');
      } catch {
        // gone
      }
    }
    ws.dispose();
    await emu.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
