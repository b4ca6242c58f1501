// The audit of a ring stack, as a pure function: the update history plus the snapshot each
// update left → one entry per update (when, which commit, by whom, the CI run, the promotion
// overrides in force, what changed on the fleet). cli/audit-source.ts gathers the inputs.
import { promotionOverridesOf } from '../pipeline/settings';
import type { PromotionOverride } from '../pipeline/gate';
import { FleetChange, fleetChanges } from './changes';
import type { UpdateInfo } from './history';
import type { FleetSnapshot } from './snapshot';

export interface GitInfo {
  sha?: string;
  ref?: string;
  dirty: boolean;
  author?: string;
  authorEmail?: string;
  committer?: string;
  committerEmail?: string;
}

export interface AuditEntry extends Pick<UpdateInfo, 'version' | 'kind' | 'result' | 'startTime' | 'endTime' | 'message'> {
  git: GitInfo | null;
  /** The `ci.*` and `vcs.*` keys Pulumi recorded when the update ran in CI. */
  ci: Record<string, string> | null;
  /** Promotion overrides in force for this update (config `fleet:promotionOverride`). */
  promotionOverrides: { image: string; reason: string }[];
  /** null when the checkpoint of this update (or of the one before) is not available. */
  changes: FleetChange[] | null;
  resourceChanges?: Record<string, number>;
}

function gitOf(environment: Record<string, string> | undefined): GitInfo | null {
  if (!environment || !environment['git.head']) return null;
  return {
    sha: environment['git.head'],
    ref: environment['git.headName'],
    dirty: environment['git.dirty'] === 'true',
    author: environment['git.author'],
    authorEmail: environment['git.author.email'],
    committer: environment['git.committer'],
    committerEmail: environment['git.committer.email'],
  };
}

function ciOf(environment: Record<string, string> | undefined): Record<string, string> | null {
  const entries = Object.entries(environment ?? {}).filter(([k]) => k.startsWith('ci.') || k.startsWith('vcs.'));
  return entries.length > 0 ? Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b))) : null;
}

/** The overrides of the promotion gate recorded in the update's configuration (none when it is malformed). */
export function overridesOf(config: Record<string, string> | undefined): PromotionOverride[] {
  try {
    return promotionOverridesOf(config ?? {});
  } catch {
    return [];
  }
}

export interface AuditUpdate {
  info: UpdateInfo;
  /** undefined when the backend cannot give this update's checkpoint. */
  snapshot?: FleetSnapshot;
}

/**
 * The audit: one entry per update, oldest first, limited to versions from..to (inclusive). The
 * changes of an update are measured against the update before it, even when that one is
 * outside the range.
 */
export function auditEntries(updates: AuditUpdate[], range: { from?: number; to?: number } = {}): AuditEntry[] {
  const ordered = [...updates].sort((a, b) => a.info.version - b.info.version);
  const entries: AuditEntry[] = [];
  ordered.forEach((update, index) => {
    const { info } = update;
    if (range.from !== undefined && info.version < range.from) return;
    if (range.to !== undefined && info.version > range.to) return;
    const previous = index > 0 ? ordered[index - 1].snapshot : undefined;
    const previousKnown = index === 0 || previous !== undefined;
    entries.push({
      version: info.version,
      kind: info.kind,
      result: info.result,
      startTime: info.startTime,
      endTime: info.endTime,
      message: info.message,
      git: gitOf(info.environment),
      ci: ciOf(info.environment),
      promotionOverrides: overridesOf(info.config),
      changes: update.snapshot && previousKnown ? fleetChanges(previous, update.snapshot, info.kind) : null,
      resourceChanges: info.resourceChanges,
    });
  });
  return entries;
}
