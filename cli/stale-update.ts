// What a dead `pulumi up` leaves behind: the stack's lock (DIY backends), and on the host
// that ran it the plugins the engine started in process groups of their own (the Node.js
// language host and program, and the dynamic provider, which may still be watching a rollout).
// Linux only for the processes: they are found through /proc.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A lock of Pulumi's DIY backend (file, s3, gs, azblob): the object
 * `.pulumi/locks/<org>/<project>/<stack>/<uuid>.json` ({"pid","username","hostname","timestamp"},
 * pkg/backend/diy/lock.go), kept while an update runs and removed when it ends.
 */
export interface StackLock {
  /** Where it is, relative to the backend's root (bucket and prefix, or directory): for messages. */
  key: string;
  pid: number;
  username: string;
  hostname: string;
  timestamp: Date;
}

/** The lock's JSON as Pulumi writes it; `where` names it in the error. */
export function parseLock(key: string, text: string, where: string): StackLock {
  let content: { pid?: unknown; username?: unknown; hostname?: unknown; timestamp?: unknown };
  try {
    content = JSON.parse(text) as typeof content;
  } catch (err) {
    throw new Error(`${where}: not a Pulumi lock file (${(err as Error).message}); remove it by hand once you know no update of the stack runs`, { cause: err });
  }
  const timestamp = new Date(String(content.timestamp));
  if (typeof content.pid !== 'number' || typeof content.hostname !== 'string' || Number.isNaN(timestamp.getTime())) {
    throw new Error(`${where}: a lock without pid, hostname or timestamp; remove it by hand once you know no update of the stack runs`);
  }
  return { key, pid: content.pid, username: String(content.username ?? ''), hostname: content.hostname, timestamp };
}

/** Not yet dead (a zombie waiting for its parent to reap it is dead). */
export function processAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /s.test(fs.readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

/** When a lock whose process this host cannot see is taken to be stale. */
export interface Staleness {
  /** A lock of another host younger than this may belong to a live update. */
  minAgeSeconds: number;
  /**
   * A lock of another host is stale at once: only where nothing else can run an update of the
   * stack meanwhile (one concurrency group for every job that locks it) and the host of a job
   * that ended is gone with it (GitHub-hosted runners: one VM per job).
   */
  otherHostsGone: boolean;
}

/**
 * Why the update holding the lock may still run, or undefined when it is certainly dead. On
 * this host the process answers it (a process with that pid, even a reused pid, counts as
 * alive); a lock of another host is trusted dead only once older than --min-age, or at once
 * when other hosts are known to be gone.
 */
export function mayBeAlive(lock: StackLock, staleness: Staleness, now = new Date()): string | undefined {
  if (lock.hostname === os.hostname()) return processAlive(lock.pid) ? `its process ${lock.pid} still runs on this host (${lock.hostname})` : undefined;
  if (staleness.otherHostsGone) return undefined;
  const ageSeconds = (now.getTime() - lock.timestamp.getTime()) / 1000;
  if (ageSeconds < staleness.minAgeSeconds) return `the lock is ${Math.floor(ageSeconds)} s old, younger than --min-age ${staleness.minAgeSeconds} s (taken on ${lock.hostname}, whose processes this host cannot see)`;
  return undefined;
}

export type PluginRole = 'dynamic provider' | 'language host' | 'program';

export interface LeftBehind {
  pid: number;
  role: PluginRole;
  /** The engine's gRPC address the plugin was started with. */
  engine: string;
}

interface ProcInfo {
  pid: number;
  argv: string[];
  env: Map<string, string>;
  startedAt: Date;
}

function bootTime(): number {
  const line = fs.readFileSync('/proc/stat', 'latin1').split('\n').find((l) => l.startsWith('btime '));
  return Number(line?.split(' ')[1] ?? 0) * 1000;
}

// Clock ticks per second of /proc/<pid>/stat's start time: USER_HZ, 100 on every Linux ABI Node runs on.
const USER_HZ = 100;

function procInfo(pid: number, boot: number): ProcInfo | undefined {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter((a) => a !== '');
    const env = new Map(
      fs
        .readFileSync(`/proc/${pid}/environ`, 'latin1')
        .split('\0')
        .filter((e) => e.includes('='))
        .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] as [string, string]),
    );
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return undefined;
    return { pid, argv, env, startedAt: new Date(boot + (Number(fields[19]) / USER_HZ) * 1000) };
  } catch {
    return undefined; // gone, or another user's
  }
}

/** Local TCP ports something listens on (IPv4 and IPv6). */
function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 3 && cols[3] === '0A') ports.add(parseInt(cols[1].split(':')[1], 16));
    }
  }
  return ports;
}

/** What a process of the engine is, and the engine address it talks to. */
function pluginOf(p: ProcInfo, stack: string): { role: PluginRole; engine: string } | undefined {
  const address = /^127\.0\.0\.1:\d+$/;
  const joined = p.argv.join(' ');
  // Pulumi's host as the plugin wrapper starts it for this project (bin/dynamic-provider.js),
  // for another project, or as a plugin binary of its own.
  const dynamicProvider = /@pulumi\/pulumi\/cmd\/dynamic-provider/.test(joined) || /(^|\/)bin\/dynamic-provider\.js$/.test(p.argv[1] ?? '');
  if (dynamicProvider || path.basename(p.argv[0] ?? '') === 'pulumi-resource-pulumi-nodejs') {
    const engine = p.argv.find((a) => address.test(a));
    return engine ? { role: 'dynamic provider', engine } : undefined;
  }
  if (path.basename(p.argv[0] ?? '') === 'pulumi-language-nodejs') {
    const engine = p.argv.find((a) => address.test(a));
    return engine ? { role: 'language host', engine } : undefined;
  }
  if (/@pulumi\/pulumi\/cmd\/run/.test(joined)) {
    const flag = (name: string) => p.argv[p.argv.indexOf(name) + 1];
    if (p.argv.includes('--stack') && flag('--stack') !== stack) return undefined;
    const engine = flag('--engine');
    return engine && address.test(engine) ? { role: 'program', engine } : undefined;
  }
  return undefined;
}

/**
 * The plugins of the dead update that took `lock`, still running on this host. A process is one
 * of them only when all of these hold: it is a Node.js language host, program or dynamic provider
 * of Pulumi; it runs against the same backend (PULUMI_BACKEND_URL in its environment) and, where
 * it says so, the same project and stack; it started after the lock was taken; and nothing
 * listens any more on the engine address it was started with (the engine lived in the dead CLI).
 * A plugin of a live update, of another backend or of an older update fails one of these.
 */
export function leftBehindPlugins(lock: StackLock, opts: { backendUrl: string; project: string; stack: string }): LeftBehind[] {
  if (lock.hostname !== os.hostname() || !fs.existsSync('/proc/self/stat')) return [];
  const boot = bootTime();
  const listening = listeningPorts();
  // Start times are in clock ticks; the lock's timestamp is taken before any plugin starts.
  const notBefore = lock.timestamp.getTime() - 1000;
  const found: LeftBehind[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const p = procInfo(Number(name), boot);
    if (!p || (p.env.get('PULUMI_BACKEND_URL') ?? '') !== opts.backendUrl) continue;
    const project = p.env.get('PULUMI_PROJECT') ?? p.env.get('PULUMI_NODEJS_PROJECT');
    if (project !== undefined && project !== opts.project) continue;
    if (p.startedAt.getTime() < notBefore) continue;
    const plugin = pluginOf(p, opts.stack);
    if (!plugin || listening.has(Number(plugin.engine.split(':')[1]))) continue;
    found.push({ pid: p.pid, ...plugin });
  }
  // The dynamic provider first: it is the one that may act on the fleet.
  const order: PluginRole[] = ['dynamic provider', 'program', 'language host'];
  return found.sort((a, b) => order.indexOf(a.role) - order.indexOf(b.role));
}

/** SIGKILL (the update is dead: there is nothing to shut down cleanly) and wait until gone. */
export async function stopProcess(pid: number, timeoutMs = 10_000): Promise<boolean> {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return !processAlive(pid);
  }
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return !processAlive(pid);
}
