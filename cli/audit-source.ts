// Where the audit's facts come from: the stack's update history and the checkpoint of each
// update, read through the Pulumi CLI. The CLI exports past checkpoints (`stack export
// --version`) only from the Pulumi Cloud backend; the DIY backends keep them next to their
// history (`.pulumi/history/<project>/<stack>/<stack>-<time>.checkpoint.json`), read here from
// the local file backend's folder and from an S3-compatible bucket (cli/s3-backend.ts).
import { execFile } from 'node:child_process';
import { createDecipheriv, pbkdf2Sync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import * as YAML from 'yaml';
import { AuditUpdate, FleetSnapshot, snapshotOf, UpdateInfo } from './audit-report';
import { repoRoot } from './pulumi-runner';
import { s3HistoryFolder } from './s3-backend';

export interface PulumiOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the pinned CLI (scripts/pulumi) in the project, stdout and stderr apart. */
export function queryPulumi(args: string[], env: NodeJS.ProcessEnv = process.env, cwd = repoRoot): Promise<PulumiOutput> {
  return new Promise((resolve) => {
    execFile('bash', [path.join(repoRoot, 'scripts', 'pulumi'), ...args, '--non-interactive'], { cwd, env, maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

export async function pulumiJson<T>(args: string[], env?: NodeJS.ProcessEnv, cwd?: string): Promise<T> {
  const result = await queryPulumi([...args], env, cwd);
  if (result.code !== 0) throw new Error(`pulumi ${args.join(' ')} failed: ${(result.stderr || result.stdout).trim()}`);
  return JSON.parse(result.stdout) as T;
}

// ------------------------------------------------------------------ secrets

const LOCAL_DEMO_PASSPHRASE = 'mender-fleet-local-demo';
const keys = new Map<string, Buffer>();

function passphrase(env: NodeJS.ProcessEnv, backendUrl: string): string | undefined {
  if (env.PULUMI_CONFIG_PASSPHRASE) return env.PULUMI_CONFIG_PASSPHRASE;
  if (env.PULUMI_CONFIG_PASSPHRASE_FILE) return fs.readFileSync(env.PULUMI_CONFIG_PASSPHRASE_FILE, 'utf8');
  // scripts/pulumi uses the demo passphrase on a local backend when none is set.
  return backendUrl.startsWith('file://') ? LOCAL_DEMO_PASSPHRASE : undefined;
}

function decrypt(key: Buffer, ciphertext: string): string {
  const [version, nonce, sealed] = ciphertext.split(':');
  if (version !== 'v1' || !nonce || !sealed) throw new Error('unknown ciphertext format');
  const bytes = Buffer.from(sealed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64'));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]).toString('utf8');
}

/**
 * Opens secrets of the passphrase secrets provider (Pulumi's scheme: PBKDF2-SHA256, 1,000,000
 * rounds, AES-256-GCM), so the audit can tell which secret keys changed. The values are digested
 * at once by snapshotOf and never printed. Other providers (cloud KMS, Pulumi Cloud) give undefined.
 */
export function secretRevealer(provider: { type?: string; state?: { salt?: string } } | undefined, phrase: string | undefined) {
  if (provider?.type !== 'passphrase' || !provider.state?.salt || phrase === undefined) return undefined;
  const state = provider.state.salt;
  return (secret: { ciphertext?: string }): unknown => {
    let key = keys.get(state);
    if (!key) {
      const [, salt] = state.split(':');
      key = pbkdf2Sync(phrase, Buffer.from(salt, 'base64'), 1_000_000, 32, 'sha256');
      if (decrypt(key, state.slice(state.indexOf(':', state.indexOf(':') + 1) + 1)) !== 'pulumi') throw new Error('wrong passphrase');
      keys.set(state, key);
    }
    if (!secret.ciphertext) return undefined;
    return JSON.parse(decrypt(key, secret.ciphertext));
  };
}

// ------------------------------------------------------------------ history

// As the CLI prints it: the version may be missing and config values come with their secret flag.
type CliHistoryEntry = Omit<UpdateInfo, 'version' | 'config'> & {
  version?: number;
  config?: Record<string, { value?: string; secret?: boolean } | string>;
};

function plainConfig(config: CliHistoryEntry['config']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(config ?? {}) as [string, unknown][]) {
    if (typeof value === 'string') out[key] = value;
    else if (Array.isArray(value)) out[key] = JSON.stringify(value);
    else if (value && typeof value === 'object') {
      const v = value as { value?: unknown; secret?: boolean; secure?: unknown };
      // {value, secret} from the CLI; {secure: ciphertext} from a file backend: secrets stay out.
      if (v.secret || v.secure !== undefined) continue;
      if ('value' in v) out[key] = typeof v.value === 'string' ? v.value : JSON.stringify(v.value);
      else out[key] = JSON.stringify(value);
    }
  }
  return out;
}

const toIso = (time: unknown) => (typeof time === 'number' ? new Date(time * 1000).toISOString() : typeof time === 'string' ? time : undefined);

function infoOf(entry: CliHistoryEntry, version: number): UpdateInfo {
  return {
    version,
    kind: entry.kind,
    result: entry.result,
    startTime: toIso(entry.startTime),
    endTime: toIso(entry.endTime),
    message: entry.message,
    environment: entry.environment,
    config: plainConfig(entry.config),
    resourceChanges: entry.resourceChanges,
  };
}

/** The folder where a file backend keeps a stack's history and checkpoints. */
export function fileHistoryDir(backendUrl: string, project: string, stack: string): string | undefined {
  const root = path.join(fileURLToPath(backendUrl.split('?')[0]), '.pulumi', 'history');
  const name = stack.split('/').pop()!;
  const candidates = [path.join(root, project, name), path.join(root, name)];
  return candidates.find((dir) => fs.existsSync(dir));
}

/** A stack's history folder on a DIY backend: the names of its files and their contents. */
interface HistoryFolder {
  names: string[];
  read(name: string): Promise<Buffer>;
  close(): void;
}

function fileHistoryFolder(dir: string): HistoryFolder {
  return { names: fs.readdirSync(dir), read: async (name) => fs.readFileSync(path.join(dir, name)), close: () => undefined };
}

// PULUMI_DIY_BACKEND_GZIP writes `.json.gz` instead.
async function readMaybeGzipped(folder: HistoryFolder, name: string): Promise<string | undefined> {
  if (folder.names.includes(name)) return (await folder.read(name)).toString('utf8');
  if (folder.names.includes(`${name}.gz`)) return gunzipSync(await folder.read(`${name}.gz`)).toString('utf8');
  return undefined;
}

/** Updates and checkpoints of a DIY backend, paired exactly by the file names, oldest first. */
async function readHistory(folder: HistoryFolder, wanted: (index: number) => boolean): Promise<{ info: CliHistoryEntry; deployment?: ExportedDeployment }[]> {
  const stems = folder.names
    .map((f) => /^(.*-(\d+))\.history\.json(\.gz)?$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => (BigInt(a[2]) < BigInt(b[2]) ? -1 : BigInt(a[2]) > BigInt(b[2]) ? 1 : 0))
    .map((m) => m[1]);
  const entries: { info: CliHistoryEntry; deployment?: ExportedDeployment }[] = [];
  for (const [index, stem] of stems.entries()) {
    const info = JSON.parse((await readMaybeGzipped(folder, `${stem}.history.json`))!) as CliHistoryEntry;
    // Checkpoints are the large files (the whole state): only those of the range are read.
    const checkpoint = wanted(index) ? await readMaybeGzipped(folder, `${stem}.checkpoint.json`) : undefined;
    entries.push({ info, deployment: checkpoint ? (JSON.parse(checkpoint) as { checkpoint?: { latest?: ExportedDeployment } }).checkpoint?.latest : undefined });
  }
  return entries;
}

interface ExportedDeployment {
  secrets_providers?: { type?: string; state?: { salt?: string } };
  resources?: { urn: string; type: string; outputs?: Record<string, unknown> }[];
}

export interface AuditSourceOptions {
  stack: string;
  env?: NodeJS.ProcessEnv;
  /** The project folder (where Pulumi.yaml is); the repository root by default. */
  cwd?: string;
  /** Only versions from..to are needed (plus the one before `from`, as the baseline). */
  from?: number;
  to?: number;
}

/** Everything the audit needs about a stack, from whatever backend the CLI is logged in to. */
export async function loadAuditUpdates(options: AuditSourceOptions): Promise<AuditUpdate[]> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? repoRoot;
  const { url } = await pulumiJson<{ url: string }>(['whoami', '--json', '--verbose'], env, cwd);
  const phrase = passphrase(env, url);
  const snapshot = (deployment: ExportedDeployment | undefined): FleetSnapshot | undefined =>
    deployment ? snapshotOf(deployment, { reveal: secretRevealer(deployment.secrets_providers, phrase) }) : undefined;
  const wanted = (version: number) => (options.from === undefined || version >= options.from - 1) && (options.to === undefined || version <= options.to);

  if (url.startsWith('file://') || url.startsWith('s3://')) {
    const project = (YAML.parse(fs.readFileSync(path.join(cwd, 'Pulumi.yaml'), 'utf8')) as { name: string }).name;
    // Fails with the CLI's own message when the stack does not exist.
    await pulumiJson(['stack', 'history', '--json', '--stack', options.stack], env, cwd);
    let folder: HistoryFolder | undefined;
    if (url.startsWith('s3://')) folder = await s3HistoryFolder(url, project, options.stack, env);
    else {
      const dir = fileHistoryDir(url, project, options.stack);
      folder = dir ? fileHistoryFolder(dir) : undefined;
    }
    if (!folder) return [];
    try {
      // DIY backends record version 0 for every update: number them in order, oldest first.
      const history = await readHistory(folder, (index) => wanted(index + 1));
      return history.map((entry, index) => ({ info: infoOf(entry.info, index + 1), snapshot: snapshot(entry.deployment) }));
    } finally {
      folder.close();
    }
  }

  const history = (await pulumiJson<CliHistoryEntry[]>(['stack', 'history', '--json', '--stack', options.stack], env, cwd)).reverse();
  const numbered = history.every((h) => !h.version);
  const updates: AuditUpdate[] = [];
  for (const [index, entry] of history.entries()) {
    const version = numbered ? index + 1 : entry.version!;
    let deployment: ExportedDeployment | undefined;
    if (wanted(version) && !numbered) {
      const exported = await queryPulumi(['stack', 'export', '--version', String(version), '--show-secrets', '--stack', options.stack], env, cwd);
      if (exported.code === 0) deployment = (JSON.parse(exported.stdout) as { deployment?: ExportedDeployment }).deployment;
    }
    updates.push({ info: infoOf(entry, version), snapshot: snapshot(deployment) });
  }
  return updates;
}
