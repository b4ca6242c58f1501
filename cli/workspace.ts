// The CLI's way to the Pulumi engine: the Automation API (a LocalWorkspace over the project
// folder) driving the pinned CLI that scripts/engine makes available, with the defaults
// scripts/pulumi sets. Results are typed (summaries, outputs, config, deployments), never
// scraped text. The few commands the Automation API has no call for (a past checkpoint of
// Pulumi Cloud, `cancel` of a DIY lock, a stack file other than Pulumi.<stack>.yaml) go
// through `pulumiCli`, the one other runner, with the same engine and environment.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LocalWorkspace, LocalWorkspaceOptions, Stack } from '@pulumi/pulumi/automation';
import { projectRoot } from '../provider/project-root';

/** The project folder (where Pulumi.yaml is). */
export const repoRoot = projectRoot;

/** As scripts/pulumi says on a local backend without a passphrase: it protects nothing. */
export const LOCAL_DEMO_PASSPHRASE = 'mender-fleet-local-demo';

let engineBin: Promise<string> | undefined;

/**
 * The folder of the pinned `pulumi` and our `pulumi-language-nodejs` (scripts/engine, last line
 * of its stdout), or MENDER_FLEET_ENGINE_BIN when whoever runs many commands resolved it once, as
 * scripts/pulumi takes it.
 */
function engine(): Promise<string> {
  const given = process.env.MENDER_FLEET_ENGINE_BIN;
  if (given && fs.existsSync(path.join(given, 'pulumi'))) return Promise.resolve(given);
  engineBin ??= new Promise((resolve, reject) => {
    execFile('bash', [path.join(repoRoot, 'scripts', 'engine'), '--quiet'], { cwd: repoRoot }, (error, stdout, stderr) => {
      if (error) reject(new Error(`scripts/engine could not provide the Pulumi engine: ${stderr.trim() || error.message}`));
      else resolve(stdout.trim().split('\n').pop()!);
    });
  });
  return engineBin;
}

/** The environment scripts/pulumi gives the CLI, on top of `env`. */
export function engineEnv(bin: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  // The engine's folder also holds the dynamic provider plugin and the language host.
  out.PATH = [bin, path.join(repoRoot, 'node_modules', '.bin'), env.PATH ?? ''].join(path.delimiter);
  out.PULUMI_SKIP_UPDATE_CHECK = 'true';
  // As scripts/pulumi: no download of the github plugin that @pulumi/github (governance) names.
  out.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION = env.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION ?? 'true';
  // Type-checking the program on every run costs ~20 s; `npm run typecheck` checks the types.
  out.PULUMI_NODEJS_TRANSPILE_ONLY = env.PULUMI_NODEJS_TRANSPILE_ONLY ?? 'true';
  // scripts/pulumi says why (docs/performance.md, "Memory limits").
  out.GOMEMLIMIT = env.GOMEMLIMIT ?? '1GiB';
  out.PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK = 'true';
  out.PULUMI_BACKEND_URL = env.PULUMI_BACKEND_URL || `file://${path.join(repoRoot, '.pulumi-state')}`;
  const passphrase = passphraseEnv(env);
  if (!passphrase) throw new Error(`set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) for the backend ${out.PULUMI_BACKEND_URL}`);
  return { ...out, ...passphrase };
}

/**
 * The passphrase variables the CLI gets for the backend `env` names: the user's, else on a local
 * backend the demo passphrase; undefined when a remote backend has none.
 */
export function passphraseEnv(env: NodeJS.ProcessEnv): Record<string, string> | undefined {
  if (env.PULUMI_CONFIG_PASSPHRASE) return { PULUMI_CONFIG_PASSPHRASE: env.PULUMI_CONFIG_PASSPHRASE };
  if (env.PULUMI_CONFIG_PASSPHRASE_FILE) return { PULUMI_CONFIG_PASSPHRASE_FILE: env.PULUMI_CONFIG_PASSPHRASE_FILE };
  const local = !env.PULUMI_BACKEND_URL || env.PULUMI_BACKEND_URL.startsWith('file://');
  return local ? { PULUMI_CONFIG_PASSPHRASE: LOCAL_DEMO_PASSPHRASE } : undefined;
}

/** The pinned engine's folder and its environment; a local backend's folder is made when missing (as scripts/pulumi does). */
async function engineAndEnv(env: NodeJS.ProcessEnv): Promise<{ bin: string; envVars: Record<string, string> }> {
  const bin = await engine();
  const envVars = engineEnv(bin, env);
  if (envVars.PULUMI_BACKEND_URL.startsWith('file://')) fs.mkdirSync(new URL(envVars.PULUMI_BACKEND_URL.split('?')[0]), { recursive: true });
  return { bin, envVars };
}

// The Automation API loads Pulumi's runtime and the TypeScript compiler with it (0.8 CPU-s):
// loaded when a workspace is first opened, so a command that only runs the CLI (recover) or
// no engine at all (validate) does without it.
const automation = () => import('@pulumi/pulumi/automation');

// One command asks a stack for several things (outputs, configuration, its export): each new
// PulumiCommand runs `pulumi version` and each Stack.select a `pulumi stack select`, 0.7 s a
// time, so a process opens each at most once. Keyed by everything that shapes them (the folder
// and the engine's environment); a failed open is not kept.
const commands = new Map<string, Promise<import('@pulumi/pulumi/automation').PulumiCommand>>();
const stacks = new Map<string, Promise<Stack>>();
function once<T>(cache: Map<string, Promise<T>>, key: string, open: () => Promise<T>): Promise<T> {
  let opened = cache.get(key);
  if (!opened) {
    opened = open();
    cache.set(key, opened);
    opened.catch(() => cache.delete(key));
  }
  return opened;
}

/** A workspace over a project folder (the repository's by default), through the pinned engine. */
export async function projectWorkspace(env: NodeJS.ProcessEnv = process.env, options: Omit<LocalWorkspaceOptions, 'pulumiCommand' | 'envVars'> = {}): Promise<LocalWorkspace> {
  const { LocalWorkspace, PulumiCommand } = await automation();
  const { bin, envVars } = await engineAndEnv(env);
  const pulumiCommand = await once(commands, bin, () => PulumiCommand.get({ root: path.dirname(bin), skipVersionCheck: true }));
  return LocalWorkspace.create({ workDir: repoRoot, ...options, pulumiCommand, envVars });
}

/** A ring's stack of the fleet project (or of the project in `workDir`); `create` makes it when missing. */
export async function ringStack(stackName: string, env: NodeJS.ProcessEnv = process.env, options: { create?: boolean; workDir?: string } = {}): Promise<Stack> {
  const { Stack, StackNotFoundError } = await automation();
  const workDir = options.workDir ?? repoRoot;
  const { envVars } = await engineAndEnv(env);
  const key = JSON.stringify([stackName, workDir, Boolean(options.create), envVars]);
  return once(stacks, key, async () => {
    const workspace = await projectWorkspace(env, { workDir });
    if (options.create) return Stack.createOrSelect(stackName, workspace);
    try {
      return await Stack.select(stackName, workspace);
    } catch (error) {
      if (error instanceof StackNotFoundError || /no stack named/.test(String((error as Error).message))) throw new NoSuchStackError(stackName, workspace.envVars.PULUMI_BACKEND_URL);
      throw error;
    }
  });
}

/** A command that reads a stack found none: it says what to run instead of the engine's dump. */
export class NoSuchStackError extends Error {
  constructor(readonly stackName: string, backend: string | undefined) {
    super(
      `there is no stack ${stackName} on ${backend ? backend.replace(/\/\/[^/@]*@/, '//') : 'the backend'} yet. ` +
        `Create it with: npm run pulumi -- stack init ${stackName} (then set its mender:serverUrl and mender:token, ` +
        `README "Your first real ring"); or, if it lives in another backend, set PULUMI_BACKEND_URL to that backend.`,
    );
    this.name = 'NoSuchStackError';
  }
}

/** Whether a CLI failure says the stack does not exist. */
export function isNoSuchStack(result: CliResult): boolean {
  return result.code !== 0 && /no stack named/.test(result.stderr + result.stdout);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The pinned CLI in the project folder, with the backend's environment. */
export type PulumiCli = (args: string[]) => Promise<CliResult>;

/** Runs the pinned CLI in `cwd` (the repository by default); a failure is a result, not a throw. */
export async function pulumiCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  const { bin, envVars } = await engineAndEnv(options.env ?? process.env);
  return new Promise((resolve) => {
    execFile(path.join(bin, 'pulumi'), [...args, '--non-interactive'], { cwd: options.cwd ?? repoRoot, env: envVars, maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** pulumiCli's stdout as JSON; a failure throws with the CLI's own message. */
export async function pulumiCliJson<T>(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<T> {
  const result = await pulumiCli(args, options);
  const stackAt = args.indexOf('--stack');
  if (stackAt >= 0 && isNoSuchStack(result)) {
    const { envVars } = await engineAndEnv(options.env ?? process.env);
    throw new NoSuchStackError(args[stackAt + 1], envVars.PULUMI_BACKEND_URL);
  }
  if (result.code !== 0) throw new Error(`pulumi ${args.join(' ')} failed: ${(result.stderr || result.stdout).trim()}`);
  return JSON.parse(result.stdout) as T;
}
