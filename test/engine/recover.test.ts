// `fleet recover` through the real engine. A `pulumi up` is killed (SIGKILL of its process group
// only, as a cancelled CI runner's shell would be) while the dynamic provider watches the
// rollout: the provider and the language host, in process groups of their own, are left running.
// `fleet recover` stops them, removes the lock and the pending operation, says what the next
// `up` adopts; that `up` converges with no second deployment. And it refuses a live update.
import { execFile, spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmulatorHandle, emulatorFor, mutating, ApiDeployment } from '../helpers/emulator';
import { interruptedRollout, ROLLOUT_ARTIFACT } from '../helpers/interrupted-rollout';
import { pulumiWorkspace, PulumiWorkspace, repoRoot, initResourcesStack } from '../helpers/pulumi';
import { engineProcesses as allEngineProcesses, alive, cmdline, killAll } from '../helpers/processes';
import { step } from '../helpers/step';

/** The engine's processes that are not yet dead. */
const engineProcesses = (backendDir: string): number[] => allEngineProcesses(backendDir).filter(alive);

const program = path.join(repoRoot, 'test', 'fixtures', 'resources-program');
const TOKEN = 'recover-test-token-7c1d93';
const SLOW = '0b6f2d4e-3a1c-4e7b-8d95-6c2a1f0e9b71';
const OFFLINE = '5d8a3c1f-7e2b-4f60-a9d4-1b3e7c5f2a86';
const ARTIFACT = ROLLOUT_ARTIFACT;
const DEPLOYMENTS = '/api/management/v1/deployments/deployments';

const { world, desired } = interruptedRollout(TOKEN, { slow: SLOW, offline: OFFLINE });

interface Fleet {
  code: number;
  stdout: string;
  stderr: string;
}

function fleet(args: string[], env: NodeJS.ProcessEnv): Promise<Fleet> {
  return new Promise((resolve) => {
    execFile('node', [path.join(repoRoot, 'bin', 'fleet.js'), ...args], { cwd: program, env }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** The device's OS image as the project tells it (a configured device's artifact_name is its configuration's). */
async function runningImage(emu: EmulatorHandle, id: string): Promise<string> {
  return (await emu.osImage(id)) ?? '(unknown)';
}

/** `up` in a process group of its own; resolves once the provider has made the Mender deployment. */
async function upUntilDeploymentCreated(ws: PulumiWorkspace, emu: EmulatorHandle, stack: string): Promise<{ up: ChildProcess; output: string[]; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }> {
  const output: string[] = [];
  const up = spawn('bash', [path.join(repoRoot, 'scripts', 'pulumi'), 'up', '--yes', '--skip-preview', '--stack', stack, '--non-interactive'], { cwd: program, env: ws.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  up.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  up.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => up.on('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (up.exitCode !== null) throw new Error(`pulumi up ended before the deployment was created:\n${output.join('')}`);
    if (Date.now() > deadline) throw new Error(`no deployment created within 180 s:\n${output.join('')}`);
    if ((await emu.requests()).some((r) => r.method === 'POST' && r.path === DEPLOYMENTS && r.status === 201)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  // The provider now watches the rollout (it polls the statistics).
  return { up, output, exited };
}

describe('fleet recover', () => {
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let workDir: string;
  const children: ChildProcess[] = [];
  const stacks = ['recover', 'recover-live', 'recover-foreign'];

  beforeAll(async () => {
    emu = await emulatorFor(world, TOKEN);
    ws = pulumiWorkspace();
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-recover-test-'));
    fs.writeFileSync(path.join(workDir, 'desired.json'), JSON.stringify(desired));
  });

  afterAll(async () => {
    for (const child of children) {
      if (child.pid && child.exitCode === null && child.signalCode === null) killAll([-child.pid]);
    }
    if (ws) killAll(engineProcesses(ws.backendDir));
    for (const stack of stacks) await ws?.run(['stack', 'rm', stack, '--yes', '--force'], { cwd: program });
    ws?.dispose();
    await emu?.emulator.close();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await emu.admin('POST', `/devices/${OFFLINE}/behavior`, { offline: true });
    await emu.clearRequests();
  });

  // One scenario: the live update deploys to the devices the killed up's recovery left converged,
  // and the first step counts every deployment on the server, so neither may run before the other.
  it('recovers a killed up, then refuses a live one that then finishes', async () => {
    await step('after a killed up: stops what it left running, removes its lock and pending operation; the next up converges without a second deployment', async () => {
      const stack = 'recover';
      await initResourcesStack(ws, { stack, desiredFile: path.join(workDir, 'desired.json'), serverUrl: emu.emulator.url, token: TOKEN });
      const { up, exited } = await upUntilDeploymentCreated(ws, emu, stack);
      children.push(up);
      process.kill(-up.pid!, 'SIGKILL');
      expect((await exited).signal).toBe('SIGKILL');

      // The kill of the CLI's group left the dynamic provider and the language host running.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const leftBehind = engineProcesses(ws.backendDir);
      expect(leftBehind.map(cmdline)).toEqual(expect.arrayContaining([expect.stringContaining('bin/dynamic-provider.js'), expect.stringContaining('pulumi-language-nodejs')]));
      const locks = filesUnder(path.join(ws.backendDir, '.pulumi', 'locks')).filter((f) => f.endsWith('.json'));
      expect(locks).toHaveLength(1);
      // A plain `up` fails on the lock: this is what recover is for.
      const blocked = await ws.run(['up', '--yes', '--skip-preview', '--stack', stack], { cwd: program });
      expect(blocked.code).not.toBe(0);
      expect(blocked.stderr + blocked.stdout).toMatch(/locked/i);
      const made = (await emu.api<ApiDeployment[]>('GET', `${DEPLOYMENTS}?per_page=500`)).filter((d) => d.type !== 'configuration');
      expect(made).toHaveLength(1);

      const recovered = await fleet(['recover', '--stack', stack, '--min-age', '0'], ws.env);
      expect(recovered.stderr).toBe('');
      expect(recovered.code).toBe(0);
      const lines = recovered.stdout.trim().split('\n');
      // The provider is stopped first, then the language host, then the lock and the pending operation go.
      expect(lines[0]).toMatch(new RegExp(`^recover: ${stack}: stopped the dynamic provider \\(pid \\d+, engine 127\\.0\\.0\\.1:\\d+\\) left behind by the dead update ${up.pid}@${os.hostname()}`));
      expect(lines.some((l) => /stopped the language host/.test(l))).toBe(true);
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`removed the lock \\.pulumi/locks/organization/resources-probe/${stack}/[0-9a-f-]+\\.json`)));
      expect(lines).toContainEqual(expect.stringMatching(/removed the pending operation "creating" of urn:pulumi:recover::resources-probe::pulumi-nodejs:dynamic\/mender:MenderDeployment::pi4-2026\.12$/));
      expect(lines[lines.length - 1]).toBe(
        `recover: ${stack}: next up: MenderDeployment ${ARTIFACT} adopts the unfinished Mender deployments named "${stack}:${ARTIFACT}:…" and deploys only to devices that neither run ${ARTIFACT} nor are on their way to it`,
      );
      expect(engineProcesses(ws.backendDir)).toEqual([]);
      expect(filesUnder(path.join(ws.backendDir, '.pulumi', 'locks')).filter((f) => f.endsWith('.json'))).toEqual([]);
      const state = JSON.parse((await ws.ok(['stack', 'export', '--stack', stack], { cwd: program })).stdout) as { deployment: { pending_operations?: unknown[] } };
      expect(state.deployment.pending_operations ?? []).toEqual([]);

      // The offline device comes back; the next up adopts the deployment and converges.
      await emu.admin('POST', `/devices/${OFFLINE}/behavior`, {});
      await emu.clearRequests();
      const again = await ws.ok(['up', '--yes', '--skip-preview', '--stack', stack], { cwd: program });
      expect(again.stdout).toMatch(/1 created/);
      expect(mutating(await emu.requests()).filter((r) => r.method === 'POST' && r.path === DEPLOYMENTS)).toEqual([]);
      expect(await runningImage(emu, SLOW)).toBe(ARTIFACT);
      expect(await runningImage(emu, OFFLINE)).toBe(ARTIFACT);
      const software = (await emu.api<ApiDeployment[]>('GET', `${DEPLOYMENTS}?per_page=500`)).filter((d) => d.type !== 'configuration');
      expect(software.map((d) => d.id)).toEqual([made[0].id]);

      // Nothing is left to recover.
      const second = await fleet(['recover', '--stack', stack, '--min-age', '0'], ws.env);
      expect(second.code).toBe(0);
      expect(second.stdout.trim()).toBe(`recover: ${stack}: no stale lock, no pending operation: nothing to do`);
    });
    await step('refuses a live update and changes nothing; the update then finishes', async () => {
      // As beforeEach did when this was a test of its own: the offline device keeps the update running.
      await emu.admin('POST', `/devices/${OFFLINE}/behavior`, { offline: true });
      await emu.clearRequests();
      const stack = 'recover-live';
      const liveDesired = path.join(workDir, 'desired-live.json');
      // Another artifact's name prefix: its own deployment, the same two devices.
      fs.writeFileSync(liveDesired, JSON.stringify({ ...desired, deployments: [{ ...desired.deployments[0], name: 'live' }] }));
      await initResourcesStack(ws, { stack, desiredFile: liveDesired, serverUrl: emu.emulator.url, token: TOKEN });
      await emu.admin('POST', `/devices/${SLOW}/inventory`, { artifact_name: 'pi4-2026.10' });
      await emu.admin('POST', `/devices/${OFFLINE}/inventory`, { artifact_name: 'pi4-2026.10' });
      await emu.clearRequests();
      const { up, output, exited } = await upUntilDeploymentCreated(ws, emu, stack);
      children.push(up);
      const before = engineProcesses(ws.backendDir);
      const locks = filesUnder(path.join(ws.backendDir, '.pulumi', 'locks')).filter((f) => f.endsWith('.json'));

      const refused = await fleet(['recover', '--stack', stack, '--min-age', '0'], ws.env);
      expect(refused.code).toBe(2);
      expect(refused.stdout).toContain(`recover: ${stack}: refused: update ${up.pid}@${os.hostname()}`);
      expect(refused.stdout).toContain(`may still run: its process ${up.pid} still runs on this host`);
      expect(refused.stdout).not.toMatch(/stopped|removed/);
      expect(filesUnder(path.join(ws.backendDir, '.pulumi', 'locks')).filter((f) => f.endsWith('.json'))).toEqual(locks);
      expect(engineProcesses(ws.backendDir)).toEqual(expect.arrayContaining(before));

      await emu.admin('POST', `/devices/${OFFLINE}/behavior`, {});
      const result = await exited;
      expect({ code: result.code, output: result.code === 0 ? '' : output.join('') }).toEqual({ code: 0, output: '' });
      expect(await runningImage(emu, OFFLINE)).toBe(ARTIFACT);
    });
  }, 480_000);

  // Apart from the scenario: a stack and a lock of its own, and no device.
  it('refuses a lock of another host younger than --min-age, and removes it once older', async () => {
    const stack = 'recover-foreign';
    await ws.ok(['stack', 'init', stack], { cwd: program });
    const dir = path.join(ws.backendDir, '.pulumi', 'locks', 'organization', 'resources-probe', stack);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, '3f0c9a2e-1b7d-4c5e-8a6f-2d9e4b1c7a05.json');
    const takenAt = new Date(Date.now() - 120_000);
    fs.writeFileSync(file, JSON.stringify({ pid: 4242, username: 'runner', hostname: 'another-runner', timestamp: takenAt.toISOString() }));

    const young = await fleet(['recover', '--stack', stack, '--min-age', '600'], ws.env);
    expect(young.code).toBe(2);
    expect(young.stdout).toMatch(/refused: update 4242@another-runner .* may still run: the lock is 1[2-9]\d s old, younger than --min-age 600 s \(taken on another-runner, whose processes this host cannot see\)/);
    expect(fs.existsSync(file)).toBe(true);

    const old = await fleet(['recover', '--stack', stack, '--min-age', '60'], ws.env);
    expect(old.code).toBe(0);
    expect(old.stdout).toContain(`recover: ${stack}: removed the lock .pulumi/locks/organization/resources-probe/${stack}/3f0c9a2e-1b7d-4c5e-8a6f-2d9e4b1c7a05.json of the dead update 4242@another-runner (lock taken ${takenAt.toISOString()})`);
    expect(old.stdout).toContain(`recover: ${stack}: next up: nothing left pending to adopt`);
    expect(fs.existsSync(file)).toBe(false);
  });
});
