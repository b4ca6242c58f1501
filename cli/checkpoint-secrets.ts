// Opens the secrets of past checkpoints of a DIY backend (file, s3, gs, azblob) through the
// engine, so the audit can tell which secret keys changed without a secrets provider of its
// own. The CLI exports a past checkpoint only from Pulumi Cloud (`stack export --version`); a
// DIY checkpoint is a file whose secrets are sealed by the stack's secrets provider. Imported
// into a scratch stack on a throw-away local backend, the checkpoint keeps that provider
// (`pulumi stack import` keeps the deployment's own), and `stack export --show-secrets` opens
// them with it: the passphrase, or a cloud KMS the CLI can reach. Only the sealed values are
// imported, not the outputs around them, so the scratch stack stays small at any fleet size.
// The clear values stay in this process; program/audit/snapshot.ts digests them at once.
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isSecretValue } from '../program/audit/snapshot';
import { passphraseEnv, projectWorkspace } from './workspace';

export interface CheckpointResource {
  urn: string;
  type: string;
  outputs?: Record<string, unknown>;
}

export interface Checkpoint {
  manifest?: unknown;
  secrets_providers?: unknown;
  resources?: CheckpointResource[];
}

const SCRATCH_TYPE = 'fleet:audit:Checkpoint';
const SCRATCH_STACK = 'audit';

type Path = (string | number)[];

/** Where the secrets stand in a resource's outputs: each sealed value and its path. */
function secretsIn(value: unknown, at: Path = [], found: { path: Path; secret: unknown }[] = []): { path: Path; secret: unknown }[] {
  if (isSecretValue(value)) found.push({ path: at, secret: value });
  else if (Array.isArray(value)) value.forEach((item, i) => secretsIn(item, [...at, i], found));
  else if (typeof value === 'object' && value !== null) for (const [key, item] of Object.entries(value)) secretsIn(item, [...at, key], found);
  return found;
}

/** A copy of `outputs` with the value at each path replaced. */
function withValues(outputs: Record<string, unknown>, replacements: { path: Path; value: unknown }[]): Record<string, unknown> {
  const copy = structuredClone(outputs);
  for (const { path: at, value } of replacements) {
    let node = copy as Record<string | number, unknown>;
    for (const key of at.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
    node[at[at.length - 1]] = value;
  }
  return copy;
}

/**
 * The checkpoints with their secrets in clear (Pulumi's `plaintext` form), in the same order.
 * Only the sealed values go through the engine, not the outputs around them: all checkpoints of
 * one secrets provider in one import. When the engine cannot open them (no passphrase, a KMS
 * out of reach), the checkpoints come back as they were and `warn` says why.
 */
export async function openCheckpointSecrets(checkpoints: (Checkpoint | undefined)[], env: NodeJS.ProcessEnv, warn: (message: string) => void): Promise<(Checkpoint | undefined)[]> {
  const opened = checkpoints.map((c) => (c ? { ...c, resources: [...(c.resources ?? [])] } : undefined));
  type Sealed = { index: number; position: number; secrets: { path: Path; secret: unknown }[] };
  const groups = new Map<string, Sealed[]>();
  opened.forEach((checkpoint, index) =>
    checkpoint?.resources.forEach((resource, position) => {
      const secrets = secretsIn(resource.outputs ?? {});
      if (secrets.length === 0) return;
      const key = JSON.stringify(checkpoint.secrets_providers ?? null);
      groups.set(key, [...(groups.get(key) ?? []), { index, position, secrets }]);
    }),
  );
  if (groups.size === 0) return opened;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-audit-'));
  try {
    // The checkpoints' passphrase, as the CLI gets it for their backend (the demo one on a local
    // backend without one); without any (a KMS), a random one seals the scratch stack's nothing.
    const scratchEnv: NodeJS.ProcessEnv = {
      ...env,
      ...(passphraseEnv(env) ?? { PULUMI_CONFIG_PASSPHRASE: randomUUID() }),
      PULUMI_BACKEND_URL: pathToFileURL(path.join(dir, 'state')).href,
    };
    const workspace = await projectWorkspace(scratchEnv, { workDir: dir, projectSettings: { name: 'fleet-audit', runtime: 'nodejs' } });
    await workspace.createStack(SCRATCH_STACK);
    for (const members of groups.values()) {
      const first = opened[members[0].index]!;
      const name = (m: Sealed) => `v${m.index}.${m.position}`;
      // One scratch resource per checkpoint resource, its outputs the sealed values by number.
      const resources = members.map((m) => ({
        urn: `urn:pulumi:${SCRATCH_STACK}::fleet-audit::${SCRATCH_TYPE}::${name(m)}`,
        type: SCRATCH_TYPE,
        custom: false,
        outputs: Object.fromEntries(m.secrets.map((s, i) => [`s${i}`, s.secret])),
      }));
      try {
        await workspace.importStack(SCRATCH_STACK, { version: 3, deployment: { manifest: first.manifest, secrets_providers: first.secrets_providers, resources } });
        const exported = (await workspace.exportStack(SCRATCH_STACK)).deployment as Checkpoint;
        const clear = new Map((exported.resources ?? []).map((r) => [r.urn.slice(r.urn.lastIndexOf('::') + 2), r.outputs ?? {}]));
        for (const m of members) {
          const values = clear.get(name(m));
          if (!values) continue;
          const resource = opened[m.index]!.resources[m.position];
          opened[m.index]!.resources[m.position] = { ...resource, outputs: withValues(resource.outputs ?? {}, m.secrets.map((s, i) => ({ path: s.path, value: values[`s${i}`] ?? s.secret }))) };
        }
      } catch (error) {
        warn(`the engine could not open the secrets of ${members.length} resource(s) in the stack's checkpoints, so changes of secret values are not compared: ${firstLine(error)}`);
      }
    }
    return opened;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// The CLI's error carries its whole output; its first error line says what failed.
function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split('\n').find((l) => /error:/i.test(l)) ?? text.split('\n')[0];
  return line.replace(/^.*?error:\s*/i, '').trim();
}
