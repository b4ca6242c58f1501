// `fleet recover --stack <ring>`: what a person did by hand after a killed `up` (docs/operations.md,
// "Recovering from an interrupted `up`"), done only when the update is certainly dead: stop the
// plugins it left running on this host, remove its lock (DIY backends: file, s3, gs, azblob) or
// `pulumi cancel` it (Pulumi Cloud and other http(s) backends), drop the pending operations from
// the state. The next `up` then adopts what the dead one made.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { LockStore, lockStoreFor } from './lock-store';
import { leftBehindPlugins, mayBeAlive, StackLock, Staleness, stopProcess } from './stale-update';
import { pulumiCli } from './workspace';

export interface RecoverOptions {
  stack: string;
  /** A lock of another host younger than this may belong to a live update (its process cannot be checked from here). */
  minAgeSeconds: number;
  /** A lock of another host (on Pulumi Cloud: any running update) is stale at once; see Staleness. */
  otherHostsGone?: boolean;
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

/**
 * The locks of a DIY backend: refused as a whole while any update holding one may still run;
 * otherwise the plugins the dead updates left on this host are stopped, then the locks removed.
 */
async function removeStaleLocks(store: LockStore, opts: RecoverOptions, staleness: Staleness, backendUrl: string, project: string): Promise<number | 'refused'> {
  const locks = await store.list();
  const alive = locks.map((lock) => ({ lock, why: mayBeAlive(lock, staleness) })).filter((l) => l.why !== undefined);
  if (alive.length > 0) {
    for (const { lock, why } of alive) opts.log(`recover: ${opts.stack}: refused: ${describeLock(lock)} may still run: ${why}`);
    opts.log(`recover: ${opts.stack}: nothing was changed; wait for that update to end (or, on another host, for --min-age to pass)`);
    return 'refused';
  }
  for (const lock of locks) await stopLeftBehind(lock, describeLock(lock), opts, backendUrl, project);
  for (const lock of locks) {
    await store.remove(lock);
    const gone = staleness.otherHostsGone && lock.hostname !== os.hostname() ? ', its host gone (--other-hosts-gone)' : '';
    opts.log(`recover: ${opts.stack}: removed the lock ${lock.key} of the dead ${describeLock(lock)}${gone}`);
  }
  return locks.length;
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
    case 'mender:DeviceConfigurationSet': {
      // The program's configurations are sets (program/pipeline/declare.ts); a set's create sends each device
      // its configuration only where Mender does not already hold and report it.
      const devices = typeof inputs.devices === 'object' && inputs.devices !== null ? Object.keys(inputs.devices).length : undefined;
      return `DeviceConfigurationSet ${name} sets and deploys the configuration of its ${devices === undefined ? '' : `${devices} `}devices again (a device already reporting its configuration gets nothing)`;
    }
    default:
      return `${type} ${name} is ${op.type === 'creating' ? 'created' : 'handled'} again`;
  }
}

function describeLock(lock: StackLock): string {
  return `update ${lock.pid}@${lock.hostname} (lock taken ${lock.timestamp.toISOString()})`;
}

/** An update as `pulumi stack history --json` lists it. */
interface HistoryEntry {
  version: number;
  kind: string;
  startTime: string;
  result?: string;
}

/** Stops what the dead update left running here, before anything else: a dynamic provider in the middle of a rollout keeps polling, and may act on, the fleet. */
async function stopLeftBehind(lock: StackLock, what: string, opts: RecoverOptions, backendUrl: string, project: string): Promise<void> {
  for (const plugin of leftBehindPlugins(lock, { backendUrl, project, stack: opts.stack })) {
    if (!(await stopProcess(plugin.pid))) throw new Error(`recover: ${opts.stack}: the ${plugin.role} ${plugin.pid} of the dead ${what} did not stop on SIGKILL; stop it, then run recover again`);
    opts.log(`recover: ${opts.stack}: stopped the ${plugin.role} (pid ${plugin.pid}, engine ${plugin.engine}) left behind by the dead ${what}`);
  }
}

/**
 * Pulumi Cloud (or a self-hosted service): the service holds the lock as the stack's running
 * update. Its start time is all it tells about it (no host, no process), so the update is stale
 * once older than --min-age, or at once with --other-hosts-gone; then `pulumi cancel` ends it.
 * Returns whether something was done.
 */
async function cancelStaleUpdate(opts: RecoverOptions, staleness: Staleness, backendUrl: string, project: string): Promise<'cancelled' | 'none' | 'refused' | 'no stack'> {
  const history = await pulumiCli(['stack', 'history', '--json', '--stack', opts.stack, '--page-size', '5'], opts);
  if (history.code !== 0) {
    if (/no stack named/i.test(history.stderr)) return 'no stack';
    throw new Error(`recover: ${opts.stack}: pulumi stack history failed (exit ${history.code}) on ${backendUrl || 'Pulumi Cloud'}:\n${history.stderr.trim()}`);
  }
  const running = (JSON.parse(history.stdout || '[]') as HistoryEntry[] | null ?? []).filter((u) => u.result === 'in-progress');
  if (running.length === 0) return 'none';
  const service = backendUrl || 'https://api.pulumi.com';
  for (const update of running) {
    const started = new Date(update.startTime);
    const age = Math.floor((Date.now() - started.getTime()) / 1000);
    const what = `${update.kind} #${update.version} (started ${started.toISOString()} on ${service})`;
    if (!staleness.otherHostsGone && !(age >= staleness.minAgeSeconds)) {
      opts.log(`recover: ${opts.stack}: refused: ${what} may still run: it started ${age} s ago, younger than --min-age ${staleness.minAgeSeconds} s (the service does not say on which host)`);
      opts.log(`recover: ${opts.stack}: nothing was changed; wait for that update to end (or for --min-age to pass)`);
      return 'refused';
    }
  }
  for (const update of running) {
    // Its plugins, if it ran here: the service names no host or process, so this host's clock
    // bounds them (started after the update) along with the dead engine address.
    await stopLeftBehind({ key: '', pid: 0, username: '', hostname: os.hostname(), timestamp: new Date(update.startTime) }, `${update.kind} #${update.version}`, opts, backendUrl, project);
  }
  const cancelled = await pulumiCli(['cancel', '--yes', '--stack', opts.stack], opts);
  if (cancelled.code !== 0) throw new Error(`recover: ${opts.stack}: pulumi cancel failed (exit ${cancelled.code}) on ${service}:\n${cancelled.stderr.trim()}`);
  for (const update of running) opts.log(`recover: ${opts.stack}: cancelled the stale ${update.kind} #${update.version} (started ${new Date(update.startTime).toISOString()}) on ${service}`);
  return 'cancelled';
}

export async function recover(opts: RecoverOptions): Promise<RecoverOutcome> {
  const { log } = opts;
  const backendUrl = opts.env.PULUMI_BACKEND_URL ?? '';
  const staleness: Staleness = { minAgeSeconds: opts.minAgeSeconds, otherHostsGone: opts.otherHostsGone ?? false };
  const project = projectName(opts.cwd);
  const scheme = backendUrl === '' ? 'https' : backendUrl.split('://')[0];
  let cleared = 0;

  if (scheme === 'http' || scheme === 'https') {
    const outcome = await cancelStaleUpdate(opts, staleness, backendUrl, project);
    if (outcome === 'refused') return 'refused';
    if (outcome === 'no stack') {
      log(`recover: ${opts.stack}: no such stack yet on ${backendUrl || 'Pulumi Cloud'}: nothing to recover`);
      return 'nothing to do';
    }
    if (outcome === 'cancelled') cleared++;
  } else if (['file', 's3', 'gs', 'azblob'].includes(scheme)) {
    const store = lockStoreFor(backendUrl, project, opts.stack, opts.env, (args) => pulumiCli(args, opts), fileBackendDir);
    try {
      const removed = await removeStaleLocks(store, opts, staleness, backendUrl, project);
      if (removed === 'refused') return 'refused';
      cleared += removed;
    } finally {
      store.close();
    }
  } else {
    log(`recover: ${opts.stack}: the ${scheme}:// backend is not handled (file, s3, gs, azblob and Pulumi Cloud are); nothing was changed`);
    return 'not handled';
  }

  // 4. The pending operations: export, drop them, import.
  let exported = await pulumiCli(['stack', 'export', '--stack', opts.stack], opts);
  // "failed to load checkpoint: EOF" after a kill: the file backend's blob library (gocloud.dev
  // v0.46.0 fileblob, writerWithSidecar.Close) writes the object's attributes file with
  // os.Create + encode, then renames the finished temporary file over the checkpoint. A SIGKILL
  // between the two leaves an empty `<checkpoint>.attrs` beside the previous, complete
  // checkpoint, and every read fails decoding it. Without the attributes file the library reads
  // the object with default attributes, so an empty one is removed (seen in the workflow test).
  if (exported.code !== 0 && /failed to load checkpoint: EOF/.test(exported.stderr) && backendUrl.startsWith('file://')) {
    const attrs = path.join(fileBackendDir(backendUrl), '.pulumi', 'stacks', project, `${opts.stack}.json.attrs`);
    if (fs.existsSync(attrs) && fs.statSync(attrs).size === 0) {
      fs.rmSync(attrs);
      log(`recover: ${opts.stack}: removed the empty ${path.relative(fileBackendDir(backendUrl), attrs)} the dead update left half-written (the checkpoint beside it is the previous, complete one)`);
      exported = await pulumiCli(['stack', 'export', '--stack', opts.stack], opts);
    }
  }
  if (exported.code !== 0) {
    if (/failed to load checkpoint/.test(exported.stderr) && backendUrl.startsWith('file://')) {
      const checkpoint = path.join(fileBackendDir(backendUrl), '.pulumi', 'stacks', project, `${opts.stack}.json`);
      throw new Error(`recover: ${opts.stack}: the stack's checkpoint ${checkpoint} cannot be read (${exported.stderr.trim()}); the previous one is ${checkpoint}.bak: check it, copy it over the checkpoint, then run recover again`);
    }
    if (/no stack named/i.test(exported.stderr)) {
      log(`recover: ${opts.stack}: no such stack yet on ${backendUrl}: nothing to recover`);
      return cleared > 0 ? 'recovered' : 'nothing to do';
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
      const imported = await pulumiCli(['stack', 'import', '--file', file, '--stack', opts.stack], opts);
      if (imported.code !== 0) throw new Error(`recover: ${opts.stack}: pulumi stack import failed (exit ${imported.code}); the pending operations are still in the state:\n${imported.stderr.trim()}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    for (const op of pending) log(`recover: ${opts.stack}: removed the pending operation "${op.type}" of ${op.resource.urn}`);
  }

  if (cleared === 0 && pending.length === 0) {
    log(`recover: ${opts.stack}: no stale lock, no pending operation: nothing to do`);
    return 'nothing to do';
  }
  if (pending.length === 0) log(`recover: ${opts.stack}: next up: nothing left pending to adopt`);
  for (const op of pending) log(`recover: ${opts.stack}: next up: ${nextUp(op)}`);
  return 'recovered';
}
