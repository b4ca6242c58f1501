// Cancelling an update through the real engine: SIGINT to the CLI (what ^C in a terminal does)
// while the provider watches a rollout. The engine asks the language host to cancel; the host
// interrupts the program and, since this one ignores the interrupt, kills it once the grace
// period (5 s) is over. The rollout in flight is finished and recorded, the update ends as
// cancelled with its lock released, and the next `up` carries on from there: it makes no
// second deployment and converges every device.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmulatorHandle, emulatorFor, mutating, ApiDeployment } from '../helpers/emulator';
import { pulumiWorkspace, PulumiWorkspace, repoRoot, initResourcesStack } from '../helpers/pulumi';
import { engineProcesses as engineProcessIds, alive, cmdline } from '../helpers/processes';

/** The processes of this workspace's engine, by command line. */
const engineProcesses = (backendDir: string): { pid: number; cmdline: string }[] => engineProcessIds(backendDir).map((pid) => ({ pid, cmdline: cmdline(pid) }));

const program = path.join(repoRoot, 'test', 'fixtures', 'resources-program');
// Its own stack name: the fixture's stack config files are shared with the other engine tests.
const stack = 'cancel';
const TOKEN = 'cancel-test-token-7d41c0';
const SLOW = '2f1c9a4e-8b3d-4e6f-a1c2-5d7e9f0b3a61';
const OFFLINE = '9b4e2d7a-1c6f-4a83-b5e0-3f8d2c1a7e94';
const ARTIFACT = 'pi4-2026.12';
const CREATE_DEPLOYMENT = '/api/management/v1/deployments/deployments';
const GRACE_MS = 5_000;

// The offline device keeps the rollout under way until the test brings it back.
const world = {
  artifacts: [{ name: ARTIFACT, device_types: ['pi4-v3-arm64'] }],
  devices: [
    { id: SLOW, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.11', behavior: { slow: true } },
    { id: OFFLINE, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.11', behavior: { offline: true } },
  ],
  tokens: [TOKEN],
  users: [],
};

const desired = {
  images: [{ name: ARTIFACT, deviceTypes: ['pi4-v3-arm64'] }],
  deployments: [{ name: ARTIFACT, artifactName: ARTIFACT, devices: [OFFLINE, SLOW], rollout: { timeoutSeconds: 120, pollSeconds: 0.05 } }],
  configurations: [],
};

interface Checkpoint {
  deployment: { pending_operations?: unknown[]; resources?: { urn: string; type: string; outputs?: { deploymentId?: string } }[] };
}

/** The device's OS image as the project tells it (a configured device's artifact_name is its configuration's). */
async function runningImage(emu: EmulatorHandle, id: string): Promise<string> {
  return (await emu.osImage(id)) ?? '(unknown)';
}

describe('an update cancelled with SIGINT during a rollout', () => {
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let workDir: string;
  let child: ReturnType<typeof spawn> | undefined;
  const inProgram = () => ({ cwd: program });

  beforeAll(async () => {
    emu = await emulatorFor(world, TOKEN);
    ws = pulumiWorkspace();
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-cancel-'));
    fs.writeFileSync(path.join(workDir, 'desired.json'), JSON.stringify(desired));
    await initResourcesStack(ws, { stack, desiredFile: path.join(workDir, 'desired.json'), serverUrl: emu.emulator.url, token: TOKEN });
  });

  afterAll(async () => {
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const { pid } of ws ? engineProcesses(ws.backendDir) : []) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await ws?.run(['stack', 'rm', stack, '--yes', '--force'], inProgram());
    ws?.dispose();
    await emu?.emulator.close();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('stops the program within the grace period and leaves a state the next up continues from', async () => {
    const output: string[] = [];
    const up = spawn('bash', [path.join(repoRoot, 'scripts', 'pulumi'), 'up', '--yes', '--skip-preview', '--stack', stack, '--non-interactive'], {
      cwd: program,
      env: { ...ws.env, FIXTURE_IGNORE_SIGINT: '1' },
      detached: true, // its own process group, so that afterAll can take all of it
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = up;
    up.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    up.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const exited = new Promise<number | null>((resolve) => up.on('exit', (code) => resolve(code)));

    // 1. The provider has made the deployment and is watching it.
    const deadline = Date.now() + 180_000;
    while (!(await emu.requests()).some((r) => r.method === 'POST' && r.path === CREATE_DEPLOYMENT && r.status === 201)) {
      if (up.exitCode !== null) throw new Error(`pulumi up ended before the deployment was created:\n${output.join('')}`);
      if (Date.now() > deadline) throw new Error(`no deployment created within 180 s:\n${output.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const programs = engineProcesses(ws.backendDir).filter((p) => p.cmdline.includes('@pulumi/pulumi/cmd/run'));
    expect(programs).toHaveLength(1);

    // 2. SIGINT to the CLI alone (scripts/pulumi execs it, so it is the child we started).
    // The program ignores the interrupt: it is still there well inside the grace period, and
    // gone soon after it (the margin is for the engine's own cancellation steps on a busy machine).
    const cancelledAt = Date.now();
    process.kill(up.pid!, 'SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(alive(programs[0].pid)).toBe(true);
    while (alive(programs[0].pid) && Date.now() - cancelledAt < GRACE_MS + 5_000) await new Promise((resolve) => setTimeout(resolve, 50));
    const stoppedAfter = Date.now() - cancelledAt;
    expect({ programAlive: alive(programs[0].pid), output: alive(programs[0].pid) ? output.join('') : '' }).toEqual({ programAlive: false, output: '' });
    expect(stoppedAfter).toBeGreaterThanOrEqual(GRACE_MS);
    expect(stoppedAfter).toBeLessThan(GRACE_MS + 5_000);

    // 3. The rollout in flight finishes (the device comes back); the engine records it and ends
    // the update as cancelled.
    await emu.admin('POST', `/devices/${OFFLINE}/behavior`, {});
    const code = await exited;
    const text = output.join('');
    expect(code).not.toBe(0);
    expect(text).toContain('^C received; cancelling.');
    expect(text).toMatch(/mender:MenderDeployment pi4-2026\.12 created/);
    expect(text).toMatch(/error: update canceled/);
    expect(engineProcesses(ws.backendDir).filter((p) => alive(p.pid))).toEqual([]);

    const state = JSON.parse((await ws.ok(['stack', 'export', '--stack', stack], inProgram())).stdout) as Checkpoint;
    expect(state.deployment.pending_operations ?? []).toEqual([]);
    expect(fs.readdirSync(path.join(ws.backendDir, '.pulumi', 'locks'), { recursive: true }).filter((f) => String(f).endsWith('.json'))).toEqual([]);
    const made = (await emu.api<ApiDeployment[]>('GET', `${CREATE_DEPLOYMENT}?per_page=500`)).filter((d) => d.type !== 'configuration');
    expect(made).toHaveLength(1);
    // The state records the deployment the cancelled update made.
    const recorded = (state.deployment.resources ?? []).filter((r) => r.urn.includes('mender:MenderDeployment'));
    expect(recorded.map((r) => r.outputs?.deploymentId)).toEqual([made[0].id]);

    // 4. The next up continues from there: nothing left to do, no second deployment, every
    // device on the new image.
    await emu.clearRequests();
    const again = await ws.ok(['up', '--yes', '--skip-preview', '--stack', stack], inProgram());
    expect(again.stdout).toMatch(/3 unchanged/);
    expect(mutating(await emu.requests())).toEqual([]);
    expect(await runningImage(emu, SLOW)).toBe(ARTIFACT);
    expect(await runningImage(emu, OFFLINE)).toBe(ARTIFACT);
    const after = (await emu.api<ApiDeployment[]>('GET', `${CREATE_DEPLOYMENT}?per_page=500`)).filter((d) => d.type !== 'configuration');
    expect(after.map((d) => d.id)).toEqual([made[0].id]);
  });
});
