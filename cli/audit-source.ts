// Where the audit's facts come from: the stack's update history and the checkpoint each update
// left, through the Automation API (cli/workspace.ts). Pulumi Cloud exports a past checkpoint
// itself (`stack export --version`, a command the Automation API has no call for). The DIY
// backends keep them next to their history (`.pulumi/history/<project>/<stack>/<stack>-<time>.checkpoint.json`),
// read here from the local file backend's folder and from an S3-compatible bucket
// (cli/s3-backend.ts); the engine opens their secrets (cli/checkpoint-secrets.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import * as YAML from 'yaml';
import type { AuditUpdate } from '../program/audit/entries';
import { HistoryEntry, updateInfoOf } from '../program/audit/history';
import { snapshotOf } from '../program/audit/snapshot';
import { Checkpoint, openCheckpointSecrets } from './checkpoint-secrets';
import { s3HistoryFolder } from './s3-backend';
import { pulumiCli, repoRoot, ringStack } from './workspace';

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
async function readHistory(folder: HistoryFolder, wanted: (index: number) => boolean): Promise<{ info: HistoryEntry; deployment?: Checkpoint }[]> {
  const stems = folder.names
    .map((f) => /^(.*-(\d+))\.history\.json(\.gz)?$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => (BigInt(a[2]) < BigInt(b[2]) ? -1 : BigInt(a[2]) > BigInt(b[2]) ? 1 : 0))
    .map((m) => m[1]);
  const entries: { info: HistoryEntry; deployment?: Checkpoint }[] = [];
  for (const [index, stem] of stems.entries()) {
    const info = JSON.parse((await readMaybeGzipped(folder, `${stem}.history.json`))!) as HistoryEntry;
    // Checkpoints are the large files (the whole state): only those of the range are read.
    const checkpoint = wanted(index) ? await readMaybeGzipped(folder, `${stem}.checkpoint.json`) : undefined;
    entries.push({ info, deployment: checkpoint ? (JSON.parse(checkpoint) as { checkpoint?: { latest?: Checkpoint } }).checkpoint?.latest : undefined });
  }
  return entries;
}

export interface AuditSourceOptions {
  stack: string;
  env?: NodeJS.ProcessEnv;
  /** The project folder (where Pulumi.yaml is); the repository root by default. */
  cwd?: string;
  /** Only versions from..to are needed (plus the one before `from`, as the baseline). */
  from?: number;
  to?: number;
  /** Where a problem that only narrows the audit goes (stderr by default). */
  warn?: (message: string) => void;
}

/** Everything the audit needs about a stack, from whatever backend the CLI is logged in to. */
export async function loadAuditUpdates(options: AuditSourceOptions): Promise<AuditUpdate[]> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? repoRoot;
  const warn = options.warn ?? ((message: string) => console.error(`audit: ${options.stack}: ${message}`));
  // Fails with the CLI's own message when the stack does not exist.
  const stack = await ringStack(options.stack, env, { workDir: cwd });
  const { url } = await stack.workspace.whoAmI();
  const wanted = (version: number) => (options.from === undefined || version >= options.from - 1) && (options.to === undefined || version <= options.to);
  const snapshots = async (checkpoints: (Checkpoint | undefined)[]) =>
    (await openCheckpointSecrets(checkpoints, env, warn)).map((c) => (c ? snapshotOf(c) : undefined));

  if (url?.startsWith('file://') || url?.startsWith('s3://')) {
    const project = (YAML.parse(fs.readFileSync(path.join(cwd, 'Pulumi.yaml'), 'utf8')) as { name: string }).name;
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
      const opened = await snapshots(history.map((entry) => entry.deployment));
      return history.map((entry, index) => ({ info: updateInfoOf(entry.info, index + 1), snapshot: opened[index] }));
    } finally {
      folder.close();
    }
  }

  const history: HistoryEntry[] = (await stack.history(undefined, undefined, false)).reverse();
  const numbered = history.every((h) => !h.version);
  const checkpoints: (Checkpoint | undefined)[] = [];
  for (const [index, entry] of history.entries()) {
    const version = numbered ? index + 1 : entry.version!;
    let checkpoint: Checkpoint | undefined;
    if (wanted(version) && !numbered) {
      const exported = await pulumiCli(['stack', 'export', '--version', String(version), '--show-secrets', '--stack', options.stack], { env, cwd });
      if (exported.code === 0) checkpoint = (JSON.parse(exported.stdout) as { deployment?: Checkpoint }).deployment;
    }
    checkpoints.push(checkpoint);
  }
  const opened = checkpoints.map((c) => (c ? snapshotOf(c) : undefined));
  return history.map((entry, index) => ({ info: updateInfoOf(entry, numbered ? index + 1 : entry.version!), snapshot: opened[index] }));
}
