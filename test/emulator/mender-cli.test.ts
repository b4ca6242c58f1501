// Mender's own command-line client, Debian's mender-cli 1.9, against the emulator: login, the
// devices list (deviceauth's management API v2), artifacts upload, list and delete. It runs in
// a child process with HOME in a temporary directory: 1.9 keeps the login's token in
// ~/.cache/mender/authtoken and reads it only from there (its --token names where `login`
// writes, not where the other commands read).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { RunningEmulator, startEmulator } from '../../emulator';
import { authRequest, deviceKey } from '../helpers/device-auth';
import { writeWithMenderArtifact } from '../helpers/mender-artifact-tool';
import { client, DEV, testWorld, TOKEN, USER } from './support';

const MENDER_CLI = process.env.MENDER_CLI_BIN ?? 'mender-cli';
const run = promisify(execFile);

let emu: RunningEmulator;
let home: string;

beforeAll(async () => {
  try {
    await run(MENDER_CLI, ['--version']);
  } catch {
    throw new Error(`${MENDER_CLI} is not installed: run scripts/mender-tools as root, or 'sudo apt-get install mender-cli'`);
  }
});

beforeEach(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'mender-cli-home-'));
  emu = await startEmulator({ world: testWorld() });
});
afterEach(async () => {
  await emu.close();
  fs.rmSync(home, { recursive: true, force: true });
});

/** Runs mender-cli against the emulator; its exit code, stdout and stderr (never throws). */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(MENDER_CLI, ['--server', emu.url, ...args], { env: { ...process.env, HOME: home }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function login(): Promise<void> {
  const res = await cli('login', '--username', USER.email, '--password', USER.password);
  expect(res).toMatchObject({ code: 0, stdout: expect.stringContaining('login successful') });
}

it('logs in, and refuses a wrong password', async () => {
  // useradm AuthLoginHandler: mender-cli sends Content-Type application/json and no body.
  await login();
  expect(fs.readFileSync(path.join(home, '.cache/mender/authtoken'), 'utf8').split('.')).toHaveLength(3);
  const wrong = await cli('login', '--username', USER.email, '--password', 'not it');
  expect(wrong.code).not.toBe(0);
  expect(wrong.stdout + wrong.stderr).toMatch(/401|unauthorized/i);
});

it('lists devices with their deviceauth status, a pending one included', async () => {
  await login();
  // An unknown device's auth request: deviceauth records it as pending (SubmitAuthRequest).
  expect((await authRequest(emu.url, { mac: '52:54:00:c1:10:01' }, deviceKey())).status).toBe(401);
  const list = await cli('devices', 'list');
  expect(list.code).toBe(0);
  const blocks = list.stdout.split(/^-+$/m).filter((b) => /ID:/.test(b));
  const statusOf = (id: string) => blocks.find((b) => b.includes(`ID: ${id}`))?.match(/Status: (\S+)/)?.[1];
  expect(statusOf(DEV.canary)).toBe('accepted');
  expect(blocks.filter((b) => /Status: pending/.test(b))).toHaveLength(1);
  expect(blocks).toHaveLength(testWorld().devices.length + 1);
  // --raw prints the server's JSON, as GET /api/management/v2/devauth/devices answered it.
  const raw = await cli('devices', 'list', '--raw');
  const fromApi = (await client(emu.url).get('/api/management/v2/devauth/devices')).data as { id: string }[];
  // (1.9 writes the raw JSON to stderr.)
  expect((JSON.parse(raw.stderr) as { id: string }[]).map((d) => d.id)).toEqual(fromApi.map((d) => d.id));
  // --detail shows the identity data.
  const detailed = await cli('--token-value', TOKEN, 'devices', 'list', '--detail', '1');
  expect(detailed.code).toBe(0);
  expect(detailed.stdout).toContain('IdentityData:');
});

it('uploads an artifact written by mender-artifact, lists it and deletes it', async () => {
  await login();
  const file = writeWithMenderArtifact({
    name: 'cli-upload-1.0',
    deviceTypes: ['pi4-v3-arm64'],
    kind: { type: 'module-image', module: 'single-file', files: [{ name: 'payload.txt', content: 'from mender-cli\n' }] },
  });
  const upload = await cli('artifacts', 'upload', '--no-progress', '--description', 'by mender-cli', file);
  expect(upload).toMatchObject({ code: 0, stdout: expect.stringContaining('upload successful') });
  const listed = await cli('artifacts', 'list');
  const block = listed.stdout.split(/^-+$/m).find((b) => b.includes('Name: cli-upload-1.0'));
  expect(block).toBeDefined();
  const id = block!.match(/ID: (\S+)/)![1];
  const artifact = await client(emu.url).get(`/api/management/v1/deployments/artifacts/${id}`);
  expect(artifact.data).toMatchObject({ name: 'cli-upload-1.0', description: 'by mender-cli', device_types_compatible: ['pi4-v3-arm64'] });
  const deleted = await cli('artifacts', 'delete', id);
  expect(deleted.code).toBe(0);
  expect((await client(emu.url).get(`/api/management/v1/deployments/artifacts/${id}`)).status).toBe(404);
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});
