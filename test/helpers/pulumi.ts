import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const repoRoot = path.resolve(__dirname, '..', '..');

export interface PulumiResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A throw-away file backend and passphrase, so engine tests never touch the user's stacks. */
export interface PulumiWorkspace {
  backendDir: string;
  env: NodeJS.ProcessEnv;
  run(args: string[], opts?: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<PulumiResult>;
  /** Like run, but throws with the CLI's output when it exits non-zero. */
  ok(args: string[], opts?: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<PulumiResult>;
  dispose(): void;
}

/**
 * `backend`: another state backend (e.g. an S3 bucket) and the variables that reach it; the
 * throw-away folder then only holds PULUMI_HOME.
 */
export function pulumiWorkspace(backend?: { url: string; env?: Record<string, string> }): PulumiWorkspace {
  const backendDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-backend-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...backend?.env,
    PULUMI_BACKEND_URL: backend?.url ?? `file://${backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: 'engine-test-passphrase',
    PULUMI_HOME: path.join(backendDir, '.pulumi-home'),
    // Colour codes would make assertions on the CLI's output brittle.
    NO_COLOR: '1',
  };
  const run = (args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
    new Promise<PulumiResult>((resolve) => {
      execFile(
        'bash',
        [path.join(repoRoot, 'scripts', 'pulumi'), ...args, '--non-interactive'],
        { cwd: opts.cwd ?? repoRoot, env: { ...env, ...opts.env }, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  return {
    backendDir,
    env,
    run,
    async ok(args, opts) {
      const result = await run(args, opts);
      if (result.code !== 0) {
        throw new Error(`pulumi ${args.join(' ')} exited ${result.code}\n${result.stdout}\n${result.stderr}`);
      }
      return result;
    },
    dispose() {
      fs.rmSync(backendDir, { recursive: true, force: true });
    },
  };
}

/**
 * A stack of the resources fixture program (test/fixtures/resources-program) wired to an
 * emulator: the desired-state JSON, the server URL and the token as a secret.
 */
export async function initResourcesStack(ws: PulumiWorkspace, opts: { stack: string; desiredFile: string; serverUrl: string; token: string }): Promise<void> {
  const cwd = path.join(repoRoot, 'test', 'fixtures', 'resources-program');
  await ws.ok(['stack', 'init', opts.stack], { cwd });
  await ws.ok(['config', 'set', 'desired', opts.desiredFile, '--stack', opts.stack], { cwd });
  await ws.ok(['config', 'set', 'mender:serverUrl', opts.serverUrl, '--stack', opts.stack], { cwd });
  await ws.ok(['config', 'set', '--secret', 'mender:token', opts.token, '--stack', opts.stack], { cwd });
}

/** `fleet <args>` (bin/fleet.js) in the repository with `env`; a failure is a result, not a throw. */
export function fleetCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot, 'bin', 'fleet.js'), ...args], { cwd: repoRoot, env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}
