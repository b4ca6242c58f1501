// The `fleet` command as a person first meets it: the version, the commands in the order of
// use with an example each, and what to run when the stack does not exist yet (not the
// Automation API's dump).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const repo = path.join(__dirname, '..', '..');
const fleet = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [path.join(repo, 'bin', 'fleet.js'), ...args], { cwd: repo, encoding: 'utf8', env: { ...process.env, ...env } });

describe('the fleet command', () => {
  it('--version prints the package version', () => {
    const r = fleet(['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe((JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('--help lists the commands in the order of use, with an example each', () => {
    const r = fleet(['--help']);
    expect(r.status).toBe(0);
    const commands = [...r.stdout.matchAll(/^ {2}(\w+) \[options\]/gm)].map((m) => m[1]);
    expect(commands).toEqual(['validate', 'plan', 'status', 'audit', 'recover', 'demo', 'emulator']);
    expect(r.stdout).toContain('Examples, in the order of use:\n  npx fleet validate --fleet fleet --stack canary\n  npx fleet plan --stack canary\n');
    for (const c of commands) {
      const help = fleet([c, '--help']);
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(/\nExample:\n {2}(npx fleet|npm run) \S+/);
    }
  });

  describe('before the stack exists', () => {
    let backend: string;
    beforeAll(() => { backend = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-no-stack-')); });
    afterAll(() => fs.rmSync(backend, { recursive: true, force: true }));

    it.each(['status', 'plan', 'audit'])('%s says what to run instead of the engine\'s error', (command) => {
      const r = fleet([command, '--stack', 'canary'], { PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: 'x', MENDER_SERVER_URL: 'http://127.0.0.1:9', MENDER_ACCESS_TOKEN: 'not-used' });
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toBe(
        `there is no stack canary on file://${backend} yet. Create it with: npm run pulumi -- stack init canary (then set its mender:serverUrl and mender:token, README "Your first real ring"); or, if it lives in another backend, set PULUMI_BACKEND_URL to that backend.`,
      );
      expect(r.stdout).toBe('');
      // Nothing was created on the way.
      expect(fs.readdirSync(backend).filter((f) => f !== '.pulumi')).toEqual([]);
    });
  });
});
