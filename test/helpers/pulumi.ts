import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as yaml from 'yaml';

export const repoRoot = path.resolve(__dirname, '..', '..');

export interface PulumiResult {
  code: number;
  stdout: string;
  stderr: string;
}

let engine: string | undefined;
/** The engine's folder (scripts/engine), looked up once per test file rather than on every CLI call. */
export function engineBin(): string {
  engine ??= execFileSync('bash', [path.join(repoRoot, 'scripts', 'engine'), '--quiet'], { encoding: 'utf8' }).trim().split('\n').pop()!;
  return engine;
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
    MENDER_FLEET_ENGINE_BIN: engineBin(),
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
 * A new stack of the program in `cwd` whose plain configuration is written into its stack file
 * (Pulumi.<stack>.yaml, beside the salt `stack init` wrote there), and whose secrets are set in
 * one `config set-all --secret`: two CLI calls however many keys, where a `config set` per key
 * cost a CLI start each.
 */
export async function initStack(
  ws: PulumiWorkspace,
  opts: { stack: string; cwd: string; config?: Record<string, string>; secrets?: Record<string, string> },
): Promise<void> {
  await ws.ok(['stack', 'init', opts.stack], { cwd: opts.cwd });
  const file = path.join(opts.cwd, `Pulumi.${opts.stack}.yaml`);
  const document = fs.existsSync(file) ? yaml.parseDocument(fs.readFileSync(file, 'utf8')) : new yaml.Document({});
  for (const [key, value] of Object.entries(opts.config ?? {})) document.setIn(['config', key], value);
  fs.writeFileSync(file, document.toString());
  const secrets = Object.entries(opts.secrets ?? {});
  if (secrets.length > 0) {
    await ws.ok(['config', 'set-all', ...secrets.flatMap(([key, value]) => ['--secret', `${key}=${value}`]), '--stack', opts.stack], { cwd: opts.cwd });
  }
}

/**
 * A stack of the resources fixture program (test/fixtures/resources-program) wired to an
 * emulator: the desired-state JSON, the server URL and the token as a secret.
 */
export async function initResourcesStack(ws: PulumiWorkspace, opts: { stack: string; desiredFile: string; serverUrl: string; token: string }): Promise<void> {
  const cwd = path.join(repoRoot, 'test', 'fixtures', 'resources-program');
  await initStack(ws, { stack: opts.stack, cwd, config: { 'resources-probe:desired': opts.desiredFile, 'mender:serverUrl': opts.serverUrl }, secrets: { 'mender:token': opts.token } });
}

/** `fleet <args>` (bin/fleet.js) in the repository with `env`; a failure is a result, not a throw. */
export function fleetCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot, 'bin', 'fleet.js'), ...args], { cwd: repoRoot, env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}
