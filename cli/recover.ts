// `fleet recover --stack <ring>`: what a person did by hand after a killed `up` (README,
// "Recovering from an interrupted `up`"), done only when the update is certainly dead: stop the
// plugins it left running on this host, remove its lock, drop the pending operations from the
// state. The next `up` then adopts what the dead one made.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from './pulumi-runner';
import { leftBehindPlugins, mayBeAlive, StackLock, stackLocks, stopProcess } from './stale-update';

export interface RecoverOptions {
  stack: string;
  /** A lock of another host younger than this may belong to a live update (its process cannot be checked from here). */
  minAgeSeconds: number;
  /** The Pulumi project's directory (holds Pulumi.yaml). */
  cwd: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
}

export type RecoverOutcome = 'recovered' | 'nothing to do' | 'refused' | 'not handled';

/** A pending operation as `pulumi stack export` writes it. */
interface PendingOperation {
  type: string;
  resource: { urn: string; type: string; inputs?: Record<string, unknown> };
}

interface Checkpoint {
  deployment?: { pending_operations?: PendingOperation[] };
}

function pulumi(args: string[], opts: Pick<RecoverOptions, 'cwd' | 'env'>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', [path.join(repoRoot, 'scripts', 'pulumi'), ...args, '--non-interactive'], { cwd: opts.cwd, env: opts.env, maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** The directory of a file:// backend URL, as Pulumi reads it (`file://~` is the home directory). */
export function fileBackendDir(url: string): string {
  const rest = url.slice('file://'.length);
  return rest === '~' || rest.startsWith('~/') ? path.join(os.homedir(), rest.slice(1)) : rest;
}

function projectName(cwd: string): string {
  const file = ['Pulumi.yaml', 'Pulumi.yml'].map((f) => path.join(cwd, f)).find((f) => fs.existsSync(f));
  if (!file) throw new Error(`recover: no Pulumi.yaml in ${cwd}; run it from the project's directory (or pass --cwd)`);
  const name = (parseYaml(fs.readFileSync(file, 'utf8')) as { name?: unknown } | null)?.name;
  if (typeof name !== 'string' || name === '') throw new Error(`recover: ${file} has no project name`);
  return name;
}

/** What the next `up` does about a resource whose operation the dead update left pending. */
export function nextUp(op: PendingOperation): string {
  const name = op.resource.urn.split('::').pop();
  const inputs = op.resource.inputs ?? {};
  // Dynamic resources are typed `pulumi-nodejs:dynamic/<their own type>`.
  const type = op.resource.type.replace(/^pulumi-nodejs:dynamic\//, '');
  switch (type) {
    case 'mender:MenderDeployment':
      return `MenderDeployment ${name} adopts the unfinished Mender deployments named "${String(inputs.namePrefix)}:${String(inputs.artifactName)}:…" and deploys only to devices that neither run ${String(inputs.artifactName)} nor are on their way to it`;
    case 'mender:ImageRelease':
      return `ImageRelease ${name} adopts the artifact already uploaded to Mender`;
    case 'mender:DeviceConfiguration':
      return `DeviceConfiguration ${name} sets and deploys the same configuration again (a device already reporting it gets nothing)`;
    default:
      return `${type} ${name} is ${op.type === 'creating' ? 'created' : 'handled'} again`;
  }
}

function describeLock(lock: StackLock): string {
  return `update ${lock.pid}@${lock.hostname} (lock taken ${lock.timestamp.toISOString()})`;
}

export async function recover(opts: RecoverOptions): Promise<RecoverOutcome> {
  const { log } = opts;
  const backendUrl = opts.env.PULUMI_BACKEND_URL ?? '';
  if (backendUrl === '') {
    // Pulumi Cloud: its own `pulumi cancel` ends a stale update; whether it is dead is for a
    // person to judge in the console (not tested here: no Pulumi Cloud account in the tests).
    log(`recover: ${opts.stack}: Pulumi Cloud backend (PULUMI_BACKEND_URL is unset): not handled; a stale update there is ended with \`pulumi cancel --stack ${opts.stack}\``);
    return 'not handled';
  }
  if (!backendUrl.startsWith('file://')) {
    const scheme = backendUrl.split('://')[0];
    log(`recover: ${opts.stack}: the ${scheme}:// backend is not handled (only file:// is); a stale lock there is the object .pulumi/locks/organization/<project>/${opts.stack}/<id>.json of the bucket`);
    return 'not handled';
  }
  const backendDir = fileBackendDir(backendUrl);
  const project = projectName(opts.cwd);
  const locks = stackLocks(backendDir, project, opts.stack);

  // 1. Refuse as a whole while any update holding a lock may still run.
  const alive = locks.map((lock) => ({ lock, why: mayBeAlive(lock, opts.minAgeSeconds) })).filter((l) => l.why !== undefined);
  if (alive.length > 0) {
    for (const { lock, why } of alive) log(`recover: ${opts.stack}: refused: ${describeLock(lock)} may still run: ${why}`);
    log(`recover: ${opts.stack}: nothing was changed; wait for that update to end (or, on another host, for --min-age to pass)`);
    return 'refused';
  }

  // 2. Stop what the dead updates left running here, before anything else: a dynamic provider in
  // the middle of a rollout keeps polling, and may act on, the fleet.
  for (const lock of locks) {
    for (const plugin of leftBehindPlugins(lock, { backendUrl, project, stack: opts.stack })) {
      if (!(await stopProcess(plugin.pid))) throw new Error(`recover: ${opts.stack}: the ${plugin.role} ${plugin.pid} of the dead ${describeLock(lock)} did not stop on SIGKILL; stop it, then run recover again`);
      log(`recover: ${opts.stack}: stopped the ${plugin.role} (pid ${plugin.pid}, engine ${plugin.engine}) left behind by the dead ${describeLock(lock)}`);
    }
  }

  // 3. The locks.
  for (const lock of locks) {
    fs.rmSync(lock.file, { force: true });
    // The file backend's blob library keeps the object's attributes next to it.
    fs.rmSync(`${lock.file}.attrs`, { force: true });
    log(`recover: ${opts.stack}: removed the lock ${path.relative(backendDir, lock.file)} of the dead ${describeLock(lock)}`);
  }

  // 4. The pending operations: export, drop them, import.
  let exported = await pulumi(['stack', 'export', '--stack', opts.stack], opts);
  // Once, in the workflow test, the export right after a kill failed with "failed to load
  // checkpoint: EOF" (not reproduced since, cause unknown): a few retries cost little.
  for (let retry = 0; retry < 5 && exported.code !== 0 && /failed to load checkpoint/.test(exported.stderr); retry++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    exported = await pulumi(['stack', 'export', '--stack', opts.stack], opts);
  }
  if (exported.code !== 0) {
    if (/failed to load checkpoint/.test(exported.stderr)) {
      const checkpoint = path.join(backendDir, '.pulumi', 'stacks', project, `${opts.stack}.json`);
      throw new Error(`recover: ${opts.stack}: the stack's checkpoint ${checkpoint} cannot be read (${exported.stderr.trim()}); the previous one is ${checkpoint}.bak: check it, copy it over the checkpoint, then run recover again`);
    }
    if (/no stack named/i.test(exported.stderr)) {
      log(`recover: ${opts.stack}: no such stack yet on ${backendUrl}: nothing to recover`);
      return locks.length > 0 ? 'recovered' : 'nothing to do';
    }
    throw new Error(`recover: ${opts.stack}: pulumi stack export failed (exit ${exported.code}):\n${exported.stderr.trim()}`);
  }
  const checkpoint = JSON.parse(exported.stdout) as Checkpoint;
  const pending = checkpoint.deployment?.pending_operations ?? [];
  if (pending.length > 0) {
    delete checkpoint.deployment!.pending_operations;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-recover-'));
    try {
      const file = path.join(dir, 'state.json');
      // The state holds secrets only encrypted; the file is private and removed right after.
      fs.writeFileSync(file, JSON.stringify(checkpoint), { mode: 0o600 });
      const imported = await pulumi(['stack', 'import', '--file', file, '--stack', opts.stack], opts);
      if (imported.code !== 0) throw new Error(`recover: ${opts.stack}: pulumi stack import failed (exit ${imported.code}); the pending operations are still in the state:\n${imported.stderr.trim()}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    for (const op of pending) log(`recover: ${opts.stack}: removed the pending operation "${op.type}" of ${op.resource.urn}`);
  }

  if (locks.length === 0 && pending.length === 0) {
    log(`recover: ${opts.stack}: no stale lock, no pending operation: nothing to do`);
    return 'nothing to do';
  }
  if (pending.length === 0) log(`recover: ${opts.stack}: next up: nothing left pending to adopt`);
  for (const op of pending) log(`recover: ${opts.stack}: next up: ${nextUp(op)}`);
  return 'recovered';
}

export function registerRecoverCommand(program: Command): void {
  program
    .command('recover')
    .description('After an interrupted `pulumi up`: stop what it left running on this host, remove its stale lock and pending operations (file backend), never touching a live update')
    .requiredOption('--stack <ring>', 'the stack (ring) to recover')
    .option('--min-age <seconds>', 'refuse a lock of another host younger than this (its process cannot be checked from here; on this host the process decides)', '600')
    .option('--cwd <dir>', 'the Pulumi project directory', process.cwd())
    .action(async (options: { stack: string; minAge: string; cwd: string }) => {
      const minAgeSeconds = Number(options.minAge);
      if (!Number.isFinite(minAgeSeconds) || minAgeSeconds < 0) throw new Error(`recover: --min-age must be a number of seconds ≥ 0, not "${options.minAge}"`);
      const outcome = await recover({ stack: options.stack, minAgeSeconds, cwd: path.resolve(options.cwd), env: process.env, log: (line) => console.log(line) });
      if (outcome === 'refused') process.exitCode = 2;
    });
}
