// `fleet recover` with the state in an S3 bucket: the real engine on a real S3-compatible server
// (MinIO, test/helpers/minio.ts). A `pulumi up` is killed (its process group) while the provider
// watches the rollout; its lock stays in the bucket. Recover reads it (through the AWS SDK, and
// the same through the CLI as for gs:// and azblob://), stops the plugins left behind, deletes
// the lock object and the pending operation; the next up converges without a second deployment.
import { execFile, spawn, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { cliLockStore, s3LockStore } from '../../cli/lock-store';
import { EmulatorHandle, emulatorFor, mutating, ApiDeployment } from '../helpers/emulator';
import { RunningMinio, startMinio } from '../helpers/minio';
import { interruptedRollout, ROLLOUT_ARTIFACT } from '../helpers/interrupted-rollout';
import { pulumiWorkspace, PulumiWorkspace, repoRoot, initResourcesStack } from '../helpers/pulumi';
import { engineProcessesOf, alive, cmdline, killAll } from '../helpers/processes';
import { step } from '../helpers/step';

const program = path.join(repoRoot, 'test', 'fixtures', 'resources-program');
const TOKEN = 'recover-s3-test-token-51e0';
const SLOW = '6a1e4c2b-9d3f-4b8a-a5c7-2e0f1d9b3c64';
const OFFLINE = '9c3b7e1a-2f4d-4a6e-8b05-7d1c3e9f5a28';
const ARTIFACT = ROLLOUT_ARTIFACT;
const DEPLOYMENTS = '/api/management/v1/deployments/deployments';
const STACK = 'recover-s3';

const { world, desired } = interruptedRollout(TOKEN, { slow: SLOW, offline: OFFLINE });

function fleet(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', [path.join(repoRoot, 'bin', 'fleet.js'), ...args], { cwd: program, env }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The device's OS image as the project tells it (a configured device's artifact_name is its configuration's). */
async function runningImage(emu: EmulatorHandle, id: string): Promise<string> {
  return (await emu.osImage(id)) ?? '(unknown)';
}

describe('fleet recover with the state in an S3 bucket (MinIO)', () => {
  let minio: RunningMinio;
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let workDir: string;
  let up: ChildProcess | undefined;
  const engineProcesses = () => engineProcessesOf(minio.backendUrl).filter(alive);
  const locks = () => minio.keys('.pulumi/locks/');
  const pulumiCli = (args: string[]) => ws.run(args, { cwd: program });

  beforeAll(async () => {
    minio = await startMinio();
    emu = await emulatorFor(world, TOKEN);
    ws = pulumiWorkspace({ url: minio.backendUrl, env: minio.env });
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-recover-s3-'));
    fs.writeFileSync(path.join(workDir, 'desired.json'), JSON.stringify(desired));
  });

  afterAll(async () => {
    if (up?.pid && up.exitCode === null && up.signalCode === null) killAll([-up.pid]);
    if (minio) killAll(engineProcesses());
    await ws?.run(['stack', 'rm', STACK, '--yes', '--force'], { cwd: program });
    ws?.dispose();
    await emu?.emulator.close();
    await minio?.stop();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  // One scenario: the planted locks are read through `pulumi stack rename`, which needs the stack
  // the first step creates.
  it('recovers a killed up from the bucket, then removes the locks of another host', async () => {
    await step('after a killed up: reads the lock in the bucket, stops what the up left running, deletes the lock and the pending operation; the next up converges', async () => {
      await initResourcesStack(ws, { stack: STACK, desiredFile: path.join(workDir, 'desired.json'), serverUrl: emu.emulator.url, token: TOKEN });
      const output: string[] = [];
      up = spawn('bash', [path.join(repoRoot, 'scripts', 'pulumi'), 'up', '--yes', '--skip-preview', '--stack', STACK, '--non-interactive'], { cwd: program, env: ws.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      up.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
      up.stderr!.on('data', (c: Buffer) => output.push(c.toString()));
      const exited = new Promise<NodeJS.Signals | null>((resolve) => up!.on('exit', (_code, signal) => resolve(signal)));
      const deadline = Date.now() + 180_000;
      while (!(await emu.requests()).some((r) => r.method === 'POST' && r.path === DEPLOYMENTS && r.status === 201)) {
        if (up.exitCode !== null) throw new Error(`pulumi up ended before the deployment was created:\n${output.join('')}`);
        if (Date.now() > deadline) throw new Error(`no deployment created within 180 s:\n${output.join('')}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      process.kill(-up.pid!, 'SIGKILL');
      expect(await exited).toBe('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(engineProcesses().map(cmdline)).toEqual(expect.arrayContaining([expect.stringContaining('bin/dynamic-provider.js'), expect.stringContaining('pulumi-language-nodejs')]));

      // The lock the dead up left in the bucket, where Pulumi v3.248.0 keeps it.
      const [key, ...more] = await locks();
      expect(more).toEqual([]);
      expect(key).toMatch(new RegExp(`^\\.pulumi/locks/organization/resources-probe/${STACK}/[0-9a-f-]{36}\\.json$`));
      // Read through the SDK and through the CLI (the way gs:// and azblob:// are read): the same lock.
      const viaSdk = s3LockStore(minio.backendUrl, 'resources-probe', STACK, ws.env);
      const [sdkLock] = await viaSdk.list();
      viaSdk.close();
      expect(sdkLock).toEqual({ key, pid: up.pid, username: os.userInfo().username, hostname: os.hostname(), timestamp: expect.any(Date) });
      const viaCli = await cliLockStore(minio.backendUrl, STACK, pulumiCli).list();
      // The CLI's message has the time to the second.
      expect(viaCli).toEqual([{ ...sdkLock, timestamp: new Date(Math.floor(sdkLock.timestamp.getTime() / 1000) * 1000) }]);
      // The probe took and released a lock of its own: still only the dead one.
      expect(await locks()).toEqual([key]);

      const recovered = await fleet(['recover', '--stack', STACK, '--min-age', '0'], ws.env);
      expect(recovered.stderr).toBe('');
      expect(recovered.code).toBe(0);
      const lines = recovered.stdout.trim().split('\n');
      expect(lines[0]).toMatch(new RegExp(`^recover: ${STACK}: stopped the dynamic provider \\(pid \\d+, engine 127\\.0\\.0\\.1:\\d+\\) left behind by the dead update ${up.pid}@${os.hostname()}`));
      expect(lines).toContainEqual(`recover: ${STACK}: removed the lock ${key} of the dead update ${up.pid}@${os.hostname()} (lock taken ${sdkLock.timestamp.toISOString()})`);
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`removed the pending operation "creating" of urn:pulumi:${STACK}::resources-probe::pulumi-nodejs:dynamic/mender:MenderDeployment::pi4-2026\\.12$`)));
      expect(lines[lines.length - 1]).toMatch(new RegExp(`^recover: ${STACK}: next up: MenderDeployment ${ARTIFACT} adopts the unfinished Mender deployments`));
      expect(engineProcesses()).toEqual([]);
      expect(await locks()).toEqual([]);
      const made = (await emu.api<ApiDeployment[]>('GET', `${DEPLOYMENTS}?per_page=500`)).filter((d) => d.type !== 'configuration');
      expect(made).toHaveLength(1);

      await emu.admin('POST', `/devices/${OFFLINE}/behavior`, {});
      await emu.clearRequests();
      await ws.ok(['up', '--yes', '--skip-preview', '--stack', STACK], { cwd: program });
      expect(mutating(await emu.requests()).filter((r) => r.method === 'POST' && r.path === DEPLOYMENTS)).toEqual([]);
      expect(await runningImage(emu, SLOW)).toBe(ARTIFACT);
      expect(await runningImage(emu, OFFLINE)).toBe(ARTIFACT);
      const software = (await emu.api<ApiDeployment[]>('GET', `${DEPLOYMENTS}?per_page=500`)).filter((d) => d.type !== 'configuration');
      expect(software.map((d) => d.id)).toEqual([made[0].id]);
    });
    await step("a lock of another host in the bucket: refused while younger than --min-age, removed at once with --other-hosts-gone; the CLI's `pulumi cancel` removes one too", async () => {
      const client = new S3Client({ endpoint: `http://${minio.address}`, region: minio.region, forcePathStyle: true, credentials: { accessKeyId: minio.env.AWS_ACCESS_KEY_ID, secretAccessKey: minio.env.AWS_SECRET_ACCESS_KEY } });
      const key = `.pulumi/locks/organization/resources-probe/${STACK}/7b2d9e4f-3c1a-4f8b-9e6d-5a0c2b7f1e93.json`;
      const takenAt = new Date(Date.now() - 60_000);
      const plant = () => client.send(new PutObjectCommand({ Bucket: minio.bucket, Key: key, Body: JSON.stringify({ pid: 4242, username: 'runner', hostname: 'fv-az123-456', timestamp: takenAt.toISOString() }) }));
      try {
        await plant();
        const asked = Date.now();
        const young = await fleet(['recover', '--stack', STACK, '--min-age', '2700'], ws.env);
        const answered = Date.now();
        expect(young.code).toBe(2);
        expect(young.stdout).toMatch(/refused: update 4242@fv-az123-456 .* may still run: the lock is \d+ s old, younger than --min-age 2700 s/);
        // The age recover saw, bounded by the clock around its run: a loaded machine can take
        // more than the 10 s a fixed "[56]\d s" allowed.
        const age = Number(/the lock is (\d+) s old/.exec(young.stdout)![1]);
        expect(age).toBeGreaterThanOrEqual(Math.floor((asked - takenAt.getTime()) / 1000));
        expect(age).toBeLessThanOrEqual(Math.ceil((answered - takenAt.getTime()) / 1000));
        expect(await locks()).toEqual([key]);

        const gone = await fleet(['recover', '--stack', STACK, '--min-age', '2700', '--other-hosts-gone'], ws.env);
        expect(gone.code).toBe(0);
        expect(gone.stdout).toContain(`recover: ${STACK}: removed the lock ${key} of the dead update 4242@fv-az123-456 (lock taken ${takenAt.toISOString()}), its host gone (--other-hosts-gone)`);
        expect(await locks()).toEqual([]);

        // How gs:// and azblob:// locks are removed: the CLI's own `pulumi cancel`.
        await plant();
        const store = cliLockStore(minio.backendUrl, STACK, pulumiCli);
        const [lock] = await store.list();
        expect(lock).toEqual({ key, pid: 4242, username: 'runner', hostname: 'fv-az123-456', timestamp: new Date(Math.floor(takenAt.getTime() / 1000) * 1000) });
        await store.remove(lock);
        expect(await locks()).toEqual([]);
        expect(await store.list()).toEqual([]);
      } finally {
        client.destroy();
      }
    });
  }, 720_000);
});
