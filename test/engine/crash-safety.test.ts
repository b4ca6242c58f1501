// Crash safety through the real engine: `pulumi up` is killed (SIGKILL, the whole process group:
// CLI, language host, program and dynamic provider) right after the provider made the Mender
// deployment and while the devices are still working on it. After clearing the pending
// operation as Pulumi documents, the next `up` converges every device and the server holds one
// deployment for those devices and that artifact, not two.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EmulatorHandle, emulatorFor, mutating, ApiDeployment } from '../helpers/emulator';
import { pulumiWorkspace, PulumiWorkspace, repoRoot, initResourcesStack } from '../helpers/pulumi';
import { engineProcesses, alive, killAll } from '../helpers/processes';

const program = path.join(repoRoot, 'test', 'fixtures', 'resources-program');
// Its own stack name: the fixture's stack config file is shared with resources.test.ts, which may run at the same time.
const stack = 'crash';
const TOKEN = 'crash-test-token-2b8e41';
const SLOW = '6a1d1c52-5f0e-4c1b-9d43-2f7f0c3e9a10';
const OFFLINE = 'c4e2b7a9-0d3f-4e85-b6a1-8f2d9c7e5b34';
const ELSEWHERE = 'e9f3a6d1-7b2c-4a58-9e0f-1c4d8b2a6f73';
const ARTIFACT = 'pi4-2026.11';
const CREATE_DEPLOYMENT = '/api/management/v1/deployments/deployments';

// One device installs slowly, the other is offline: when the deployment exists, the rollout is
// under way and cannot finish before the kill.
const world = {
  artifacts: [{ name: ARTIFACT, device_types: ['pi4-v3-arm64'] }],
  devices: [
    { id: SLOW, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', behavior: { slow: true } },
    { id: OFFLINE, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', behavior: { offline: true } },
    { id: ELSEWHERE, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10' },
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
  deployment: { pending_operations?: { type: string; resource: { urn: string } }[]; resources?: { urn: string; type: string }[] };
}

/** The device's OS image as the project tells it (a configured device's artifact_name is its configuration's). */
async function runningImage(emu: EmulatorHandle, id: string): Promise<string> {
  return (await emu.osImage(id)) ?? '(unknown)';
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe('pulumi up killed while a deployment is being created', () => {
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let workDir: string;
  let child: ReturnType<typeof spawn> | undefined;
  const inProgram = () => ({ cwd: program });

  beforeAll(async () => {
    emu = await emulatorFor(world, TOKEN);
    ws = pulumiWorkspace();
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-crash-'));
    fs.writeFileSync(path.join(workDir, 'desired.json'), JSON.stringify(desired));
    await initResourcesStack(ws, { stack, desiredFile: path.join(workDir, 'desired.json'), serverUrl: emu.emulator.url, token: TOKEN });
  });

  afterAll(async () => {
    // Never leave a killed-test's pulumi behind.
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (ws) killAll(engineProcesses(ws.backendDir));
    await ws?.run(['stack', 'rm', stack, '--yes', '--force'], inProgram());
    ws?.dispose();
    await emu?.emulator.close();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  it('converges on the next up without a second deployment for the same devices and artifact', async () => {
    // A deployment elsewhere, still pending for a device outside the set: the crash recovery must
    // not touch it.
    await emu.admin('POST', `/devices/${ELSEWHERE}/behavior`, { offline: true });
    await emu.api('POST', CREATE_DEPLOYMENT, { name: 'by-hand', artifact_name: ARTIFACT, devices: [ELSEWHERE] });
    await emu.clearRequests();

    // 1. `up`, in its own process group so that the kill reaches every process of the engine.
    const output: string[] = [];
    const up = spawn('bash', [path.join(repoRoot, 'scripts', 'pulumi'), 'up', '--yes', '--skip-preview', '--stack', stack, '--non-interactive'], {
      cwd: program,
      env: ws.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = up;
    up.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    up.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => up.on('exit', (code, signal) => resolve({ code, signal })));

    // 2. Wait until the provider has made the Mender deployment, then kill the process group.
    const deadline = Date.now() + 180_000;
    let created = false;
    while (!created) {
      if (up.exitCode !== null) throw new Error(`pulumi up ended before the deployment was created:\n${output.join('')}`);
      if (Date.now() > deadline) throw new Error(`no deployment created within 180 s:\n${output.join('')}`);
      created = (await emu.requests()).some((r) => r.method === 'POST' && r.path === CREATE_DEPLOYMENT && r.status === 201);
      if (!created) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const engine = engineProcesses(ws.backendDir);
    process.kill(-up.pid!, 'SIGKILL');
    killAll(engine);
    expect((await exited).signal).toBe('SIGKILL');
    // The dynamic provider was among them (it was watching the rollout).
    expect(engine.length).toBeGreaterThan(1);
    const settled = Date.now() + 10_000;
    while (engineProcesses(ws.backendDir).some(alive) && Date.now() < settled) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(engineProcesses(ws.backendDir).filter(alive)).toEqual([]);

    const made = (await emu.api<ApiDeployment[]>('GET', `${CREATE_DEPLOYMENT}?per_page=500`)).filter((d) => d.name !== 'by-hand' && d.type !== 'configuration');
    expect(made).toHaveLength(1);
    expect(made[0].status).not.toBe('finished');
    expect(await runningImage(emu, OFFLINE)).toBe('pi4-2026.10');

    // 3. The file backend keeps the lock of the killed update; `pulumi cancel` is for the Pulumi
    // Cloud backend only, so the lock file is removed by hand, as Pulumi documents.
    const locks = filesUnder(path.join(ws.backendDir, '.pulumi', 'locks'));
    expect(locks.length).toBeGreaterThan(0);
    for (const lock of locks) fs.rmSync(lock);

    // 4. The state holds the interrupted create as a pending operation: export, drop it, import.
    const exportFile = path.join(workDir, 'state.json');
    const exported = JSON.parse((await ws.ok(['stack', 'export', '--stack', stack], inProgram())).stdout) as Checkpoint;
    const pending = exported.deployment.pending_operations ?? [];
    expect(pending).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'creating', resource: expect.objectContaining({ urn: expect.stringContaining('mender:MenderDeployment') }) })]));
    expect((exported.deployment.resources ?? []).some((r) => r.type === 'mender:MenderDeployment')).toBe(false);
    delete exported.deployment.pending_operations;
    fs.writeFileSync(exportFile, JSON.stringify(exported));
    await ws.ok(['stack', 'import', '--file', exportFile, '--stack', stack], inProgram());

    // 5. The offline device comes back; `up` again converges every device, adopting the
    // deployment the killed run made.
    await emu.admin('POST', `/devices/${OFFLINE}/behavior`, {});
    await emu.clearRequests();
    const again = await ws.ok(['up', '--yes', '--skip-preview', '--stack', stack], inProgram());
    // The image was recorded before the kill; the deployment is created again, i.e. adopted.
    expect(again.stdout).toMatch(/1 created/);
    expect(again.stdout).toMatch(/2 unchanged/); // the stack and the image
    expect(mutating(await emu.requests()).filter((r) => r.method === 'POST' && r.path === CREATE_DEPLOYMENT)).toEqual([]);
    expect(await runningImage(emu, SLOW)).toBe(ARTIFACT);
    expect(await runningImage(emu, OFFLINE)).toBe(ARTIFACT);

    const software = (await emu.api<ApiDeployment[]>('GET', `${CREATE_DEPLOYMENT}?per_page=500`)).filter((d) => d.type !== 'configuration');
    const forTheSet = software.filter((d) => d.artifact_name === ARTIFACT && d.name !== 'by-hand');
    expect(forTheSet.map((d) => d.id)).toEqual([made[0].id]);
    const devices = await emu.api<{ id: string; status: string }[]>('GET', `${CREATE_DEPLOYMENT}/${made[0].id}/devices/list`);
    expect(devices.map((d) => [d.id, d.status]).sort()).toEqual([[OFFLINE, 'success'], [SLOW, 'success']].sort());
    // The deployment of a device outside the set was left alone.
    // (The offline device has not polled, so it has no device deployment there; nothing aborted it.)
    const byHand = software.find((d) => d.name === 'by-hand')!;
    expect(byHand.status).toBe('pending');
    expect(await emu.api('GET', `${CREATE_DEPLOYMENT}/${byHand.id}/device_list`)).toEqual([ELSEWHERE]);
    expect(await emu.api('GET', `${CREATE_DEPLOYMENT}/devices/${ELSEWHERE}`)).toEqual([]);

    // 6. And the state now records the adopted deployment: a further up changes nothing.
    await emu.clearRequests();
    const third = await ws.ok(['up', '--yes', '--skip-preview', '--stack', stack], inProgram());
    expect(third.stdout).toMatch(/3 unchanged/); // the stack, the image, the deployment
    expect(mutating(await emu.requests())).toEqual([]);
  });
});
