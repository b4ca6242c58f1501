// apply.yml's own steps, run locally as the runner would run them, twice: the apply of a first
// commit is killed mid-rollout (SIGKILL of the step's process group, as when a runner is lost),
// then the next commit's apply runs every step: its recover step clears what the dead apply left
// (the processes on this host, the lock, the pending operations) and its `up` converges the ring
// without a second deployment for any device and artifact.
//
// What is not GitHub's runner here: `actions/checkout` (this worktree is the checkout) and the
// set-up action (scripts/setup did it; the engine is put on PATH), and pulumi/actions, whose `up`
// is run as the command it stands for (`pulumi up --yes --stack … --message …`).
import { spawn, ChildProcess, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { parseWorld } from '../../emulator';
import { EmulatorHandle, emulatorFor, ApiDeployment } from '../helpers/emulator';
import { pulumiWorkspace, PulumiWorkspace, repoRoot } from '../helpers/pulumi';
import { engineProcesses as allEngineProcesses, alive, killAll } from '../helpers/processes';

/** The engine's processes that are not yet dead. */
const engineProcesses = (backendDir: string): number[] => allEngineProcesses(backendDir).filter(alive);

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, string | boolean>;
  env?: Record<string, string>;
}

const TOKEN = 'demo-personal-access-token';
const world = parseWorld(fs.readFileSync(path.join(repoRoot, 'demo', 'world.yaml'), 'utf8'), 'demo/world.yaml');
// A canary device that stays offline during the first apply, so its rollout cannot finish.
const OFFLINE = '3fb4632b-96b9-475d-ac89-02255bd15b6f';
const CANARY = {
  '048312b5-0456-47a7-9e83-b636f4c0a689': '2026-11-02-pi2-bookworm-armhf',
  '3fb4632b-96b9-475d-ac89-02255bd15b6f': '2026-11-02-pi4-bookworm-arm64',
  '50a28c2e-3ee8-4559-a5b9-3ce47c881c5d': '2026-11-02-pi3-bookworm-arm64',
  '5ef8c955-4f87-4243-adcd-160f70c3c45e': '2026-11-20-iot-gate-imx8-bookworm-arm64-rc1',
};
const DEPLOYMENTS = '/api/management/v1/deployments/deployments';
const job = (parse(fs.readFileSync(path.join(repoRoot, '.github', 'workflows', 'apply.yml'), 'utf8')) as { jobs: { apply: { steps: Step[] } } }).jobs.apply;

type Contexts = Record<string, Record<string, string>>;

/**
 * The expressions apply.yml uses: context paths, `x != ''`, joined by `||` (which, as in GitHub,
 * yields the first truthy operand).
 */
function evaluate(template: string, contexts: Contexts): string {
  return template.replace(/\$\{\{\s*([^}]*?)\s*\}\}/g, (_m, expr: string) => {
    const terms = expr.split(/\s*\|\|\s*/).map((term): string | boolean => {
      const m = /^([a-z_]+)\.([A-Za-z_]+)(\s*!=\s*'')?$/.exec(term);
      if (!m) throw new Error(`an expression this test does not evaluate: ${expr}`);
      const value = contexts[m[1]]?.[m[2]] ?? '';
      return m[3] ? value !== '' : value;
    });
    const result = terms.find((t) => t !== '' && t !== false) ?? terms[terms.length - 1];
    return String(result);
  });
}

interface StepRun {
  step: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  output: string[];
}

function startStep(step: Step, contexts: Contexts, baseEnv: NodeJS.ProcessEnv): StepRun | undefined {
  const env: NodeJS.ProcessEnv = { ...baseEnv };
  for (const [k, v] of Object.entries(step.env ?? {})) env[k] = evaluate(v, contexts);
  let argv: string[];
  if (step.run !== undefined) {
    // GitHub's default shell for run steps.
    argv = ['bash', '--noprofile', '--norc', '-eo', 'pipefail', '-c', evaluate(step.run, contexts)];
  } else if (step.uses?.startsWith('pulumi/actions@')) {
    const w = step.with ?? {};
    argv = ['pulumi', String(w.command), '--stack', evaluate(String(w['stack-name']), contexts), '--non-interactive'];
    if (w.command === 'up') argv.push('--yes');
    if (w.message) argv.push('--message', evaluate(String(w.message), contexts));
    if (w.diff) argv.push('--diff');
  } else if (step.uses === 'actions/checkout@v4' || step.uses === './.github/actions/setup-fleet') {
    return undefined;
  } else {
    throw new Error(`a step this test cannot run: ${JSON.stringify(step)}`);
  }
  const output: string[] = [];
  // Its own process group, like the runner's step process: a lost runner takes the whole group.
  const child = spawn(argv[0], argv.slice(1), { cwd: repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { step: evaluate(step.name ?? step.run ?? '', contexts), child, exited, output };
}

// The next commit's apply on the same host (a self-hosted runner: it finds and stops what the
// dead apply left running), and on another GitHub-hosted runner (the dead job's VM, with its
// processes, is gone; its lock names that VM and is only seconds old).
describe.each([
  { runner: 'the same self-hosted runner', hosted: false },
  { runner: 'a new GitHub-hosted runner', hosted: true },
])('apply.yml: a killed apply, then the next commit on $runner', ({ hosted }) => {
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let runDir: string;
  const started: StepRun[] = [];

  beforeAll(async () => {
    emu = await emulatorFor(world, TOKEN);
    ws = pulumiWorkspace();
    runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-apply-run-'));
    // The ring's stack exists (made once when the ring was set up).
    await ws.ok(['stack', 'init', 'canary'], { env: { PULUMI_CONFIG_PASSPHRASE: 'mender-fleet-local-demo' } });
  });

  afterAll(async () => {
    for (const s of started) if (s.child.pid && s.child.exitCode === null && s.child.signalCode === null) killAll([-s.child.pid]);
    if (ws) killAll(engineProcesses(ws.backendDir));
    await ws?.run(['stack', 'rm', 'canary', '--yes', '--force', '--preserve-config']);
    ws?.dispose();
    await emu?.emulator.close();
    if (runDir) fs.rmSync(runDir, { recursive: true, force: true });
  });

  it('converges in the next apply, with no second deployment', async () => {
    const engineBin = execFileSync('bash', [path.join(repoRoot, 'scripts', 'engine'), '--quiet'], { encoding: 'utf8' }).trim().split('\n').pop()!;
    const secrets = { PULUMI_BACKEND_URL: `file://${ws.backendDir}`, PULUMI_CONFIG_PASSPHRASE: 'mender-fleet-local-demo', MENDER_ACCESS_TOKEN: TOKEN };
    const runOf = (run: number, runnerEnvironment?: string): { contexts: Contexts; env: NodeJS.ProcessEnv; summary: string } => {
      const summary = path.join(runDir, `summary-${run}.md`);
      fs.writeFileSync(summary, '');
      const sha = `c0ffee${run}`;
      const contexts: Contexts = {
        github: { ref_name: 'canary', sha, run_id: String(run), actor: 'alice', server_url: 'https://github.com', repository: 'example/fleet', event_name: 'push' },
        secrets,
        vars: { MENDER_SERVER_URL: emu.emulator.url },
      };
      const output = path.join(runDir, `output-${run}`);
      const env: NodeJS.ProcessEnv = { ...ws.env, PATH: `${engineBin}:${process.env.PATH}`, GITHUB_SHA: sha, GITHUB_REF_NAME: 'canary', GITHUB_STEP_SUMMARY: summary, GITHUB_OUTPUT: output, RUNNER_ENVIRONMENT: runnerEnvironment, PULUMI_BACKEND_URL: undefined, PULUMI_CONFIG_PASSPHRASE: undefined };
      return { contexts, env, summary };
    };

    // Run 1: the apply of the first commit, killed once its `up` made a Mender deployment.
    await emu.admin('POST', `/devices/${OFFLINE}/behavior`, { offline: true });
    await emu.clearRequests();
    const first = runOf(1);
    let killed = false;
    for (const step of job.steps) {
      const s = startStep(step, first.contexts, first.env);
      if (!s) continue;
      started.push(s);
      if (step.uses?.startsWith('pulumi/actions@')) {
        const deadline = Date.now() + 200_000;
        while (!(await emu.requests()).some((r) => r.method === 'POST' && r.path === DEPLOYMENTS && r.status === 201)) {
          if (s.child.exitCode !== null) throw new Error(`${s.step} ended before a deployment was made:\n${s.output.join('')}`);
          if (Date.now() > deadline) throw new Error(`no deployment within 200 s:\n${s.output.join('')}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        process.kill(-s.child.pid!, 'SIGKILL');
        await s.exited;
        killed = true;
        break; // the runner is gone: no later step runs
      }
      const code = await s.exited;
      expect({ step: s.step, code, output: code === 0 ? '' : s.output.join('') }).toEqual({ step: s.step, code: 0, output: '' });
    }
    expect(killed).toBe(true);
    expect(fs.readFileSync(first.summary, 'utf8')).toContain('recover: canary: no stale lock, no pending operation: nothing to do');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(engineProcesses(ws.backendDir).length).toBeGreaterThan(0); // left behind by the kill

    let deadLock = '';
    if (hosted) {
      // The runner's VM is gone, and its processes with it; its lock stays, naming that VM.
      killAll(engineProcesses(ws.backendDir));
      const dir = path.join(ws.backendDir, '.pulumi', 'locks', 'organization', 'fleet', 'canary');
      const [name] = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
      const lock = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as { pid: number; hostname: string };
      fs.writeFileSync(path.join(dir, name), JSON.stringify({ ...lock, hostname: 'fv-az714-223' }));
      deadLock = `${lock.pid}@fv-az714-223`;
    }

    // Run 2: the next commit's apply, every step, with the device back.
    await emu.admin('POST', `/devices/${OFFLINE}/behavior`, {});
    const second = runOf(2, hosted ? 'github-hosted' : undefined);
    for (const step of job.steps) {
      const s = startStep(step, second.contexts, second.env);
      if (!s) continue;
      started.push(s);
      const code = await s.exited;
      expect({ step: s.step, code, output: code === 0 ? '' : s.output.join('') }).toEqual({ step: s.step, code: 0, output: '' });
    }
    const summary = fs.readFileSync(second.summary, 'utf8');
    if (hosted) {
      expect(summary).toMatch(/^### fleet recover canary\n```\nrecover: canary: removed the lock/);
      expect(summary).toMatch(new RegExp(`recover: canary: removed the lock \\.pulumi/locks/organization/fleet/canary/[0-9a-f-]+\\.json of the dead update ${deadLock} \\(lock taken [^)]+\\), its host gone \\(--other-hosts-gone\\)\n`));
    } else {
      expect(summary).toMatch(/^### fleet recover canary\n```\nrecover: canary: stopped the dynamic provider \(pid \d+/);
      expect(summary).toMatch(/recover: canary: removed the lock \.pulumi\/locks\/organization\/fleet\/canary\/[0-9a-f-]+\.json of the dead update \d+@/);
    }
    expect(summary).toMatch(/recover: canary: removed the pending operation "creating" of urn:pulumi:canary::fleet::pulumi-nodejs:dynamic\/mender:MenderDeployment::/);
    expect(summary).toMatch(/recover: canary: next up: MenderDeployment \S+ adopts the unfinished Mender deployments named "canary:/);
    expect(engineProcesses(ws.backendDir)).toEqual([]);

    // Converged: every canary device runs its image; no device got two deployments of an artifact.
    const devices = await emu.api<{ id: string; attributes: { name: string; value: string; scope: string }[] }[]>('GET', '/api/management/v1/inventory/devices?per_page=100');
    // The OS image's own provide, which a configuration deployment leaves (artifact_name becomes configuration-<id>).
    const running = Object.fromEntries(devices.map((d) => [d.id, d.attributes.find((a) => a.scope === 'inventory' && a.name === 'rootfs-image.version')!.value]));
    expect(Object.fromEntries(Object.keys(CANARY).map((id) => [id, running[id]]))).toEqual(CANARY);
    const software = (await emu.api<ApiDeployment[]>('GET', `${DEPLOYMENTS}?per_page=500`)).filter((d) => d.type !== 'configuration');
    const pairs: string[] = [];
    for (const d of software) for (const id of await emu.api<string[]>('GET', `${DEPLOYMENTS}/${d.id}/device_list`)) pairs.push(`${id} ${d.artifact_name}`);
    expect(pairs.filter((p, i) => pairs.indexOf(p) !== i)).toEqual([]);
    // The tag step ran after the successful up.
    expect((await ws.ok(['stack', 'tag', 'get', 'git:commit', '--stack', 'canary'], { env: { PULUMI_CONFIG_PASSPHRASE: 'mender-fleet-local-demo' } })).stdout.trim()).toBe('c0ffee2');
  });
});
