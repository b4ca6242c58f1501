// The demo keeps to its own local state whatever Pulumi variables the shell holds: a user who
// exports PULUMI_BACKEND_URL and PULUMI_CONFIG_PASSPHRASE for their own projects gets no demo
// stacks in their backend and no "incorrect passphrase" failure, and is told so.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEMO_STATE_DIR, demoEnv, historyCommand, runDemo } from '../../cli/demo';
import { repoRoot } from '../../cli/workspace';

/** What a Pulumi user's shell often holds: their team's backend, its passphrase, a Cloud token. */
const USER_SHELL = {
  PULUMI_BACKEND_URL: 's3://team-bucket/pulumi',
  PULUMI_CONFIG_PASSPHRASE: 'the-team-passphrase',
  PULUMI_CONFIG_PASSPHRASE_FILE: '/home/user/.pulumi-passphrase',
  PULUMI_ACCESS_TOKEN: 'pul-0123456789abcdef',
};

describe('the demo\'s Pulumi environment (demoEnv)', () => {
  it('is a local backend of its own with the demo passphrase, whatever the shell sets', () => {
    const demo = demoEnv({ PATH: '/usr/bin', PULUMI_HOME: '/home/user/.pulumi', ...USER_SHELL });
    expect(demo.env.PULUMI_BACKEND_URL).toBe(`file://${path.join(repoRoot, '.pulumi-state')}`);
    // The passphrase the stack files' salt is for (Pulumi.canary.yaml, Pulumi.production.yaml).
    expect(demo.env.PULUMI_CONFIG_PASSPHRASE).toBe('mender-fleet-local-demo');
    expect(demo.env).not.toHaveProperty('PULUMI_CONFIG_PASSPHRASE_FILE');
    expect(demo.env).not.toHaveProperty('PULUMI_ACCESS_TOKEN');
    // The rest of the shell is passed on.
    expect(demo.env).toMatchObject({ PATH: '/usr/bin', PULUMI_HOME: '/home/user/.pulumi' });
    expect(demo.ignored).toEqual(Object.keys(USER_SHELL));
  });

  it('says where the state is, and which of the shell\'s variables it leaves alone', () => {
    expect(demoEnv({ PULUMI_BACKEND_URL: 's3://team-bucket' }).notice).toBe(
      'demo: Pulumi state in .pulumi-state/ (a local backend of its own, with the local demo passphrase); your PULUMI_BACKEND_URL is left alone',
    );
    expect(demoEnv(USER_SHELL).notice).toMatch(/your PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE, PULUMI_CONFIG_PASSPHRASE_FILE, PULUMI_ACCESS_TOKEN are left alone$/);
    expect(demoEnv({ PULUMI_BACKEND_URL: '' }).notice).toBe('demo: Pulumi state in .pulumi-state/ (a local backend of its own, with the local demo passphrase)');
  });

  it('names the history command that reads the demo\'s state from the same shell', () => {
    expect(historyCommand(demoEnv({}))).toBe('npm run pulumi -- stack history --stack canary');
    // scripts/pulumi without them takes .pulumi-state/ and the demo passphrase.
    expect(historyCommand(demoEnv(USER_SHELL))).toBe(
      'env -u PULUMI_BACKEND_URL -u PULUMI_CONFIG_PASSPHRASE -u PULUMI_CONFIG_PASSPHRASE_FILE npm run pulumi -- stack history --stack canary',
    );
    expect(historyCommand(demoEnv({}, DEMO_STATE_DIR), DEMO_STATE_DIR)).toBe('npm run pulumi -- stack history --stack canary');
    expect(historyCommand(demoEnv({}, '/tmp/state'), '/tmp/state')).toBe(
      'env -u PULUMI_CONFIG_PASSPHRASE_FILE PULUMI_BACKEND_URL=file:///tmp/state PULUMI_CONFIG_PASSPHRASE=mender-fleet-local-demo npm run pulumi -- stack history --stack canary',
    );
  });
});

describe('the demo, run with a Pulumi user\'s shell', () => {
  // The real demo (emulator, engine, both rings, the second up): about 3 minutes here.
  jest.setTimeout(15 * 60 * 1000);

  it('succeeds in its own local state and leaves the backend PULUMI_BACKEND_URL names untouched', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-demo-backend-'));
    const userBackend = path.join(root, 'their-backend');
    fs.mkdirSync(userBackend);
    const stateDir = path.join(root, 'demo-state');
    const lines: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(' '));
    });
    try {
      const code = await runDemo({
        world: path.join(repoRoot, 'demo', 'world.yaml'),
        stateDir,
        env: { ...process.env, PULUMI_BACKEND_URL: `file://${userBackend}`, PULUMI_CONFIG_PASSPHRASE: 'not-the-demo-passphrase', PULUMI_ACCESS_TOKEN: 'pul-0123456789abcdef' },
      });
      log.mockRestore();
      expect({ code, failed: lines.filter((l) => /FAILED|^\s+- /.test(l)) }).toEqual({ code: 0, failed: [] });
      expect(fs.readdirSync(userBackend)).toEqual([]);
      expect(lines[0]).toMatch(/^demo: Pulumi state in .*demo-state .*your PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE, PULUMI_ACCESS_TOKEN are left alone$/);
      // Both rings' stacks are in the demo's own state.
      expect(fs.readdirSync(path.join(stateDir, '.pulumi', 'stacks', 'fleet')).filter((f) => f.endsWith('.json')).sort()).toEqual(['canary.json', 'production.json']);
    } finally {
      log.mockRestore();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
