// The audit's first input: a stack's update history, as Pulumi's backends give it, in one shape
// (cli/audit-source.ts reads it from whichever backend the CLI is logged in to).

/** One entry of `pulumi stack history --json` (or a file backend's `.history.json`). */
export interface UpdateInfo {
  /** 1, 2, … oldest first. The file backend records 0 for every update; the loader numbers them. */
  version: number;
  kind: string;
  result?: string;
  /** ISO 8601 */
  startTime?: string;
  endTime?: string;
  message?: string;
  environment?: Record<string, string>;
  /** The stack configuration the update ran with (`key` → value as a string). */
  config?: Record<string, string>;
  resourceChanges?: Record<string, number>;
}

// As a DIY backend's `.history.json` holds it or the Automation API's `history()` gives it: the
// version may be missing (0), times are Unix seconds or dates, and config values come with
// their secret flag.
export type HistoryEntry = Omit<UpdateInfo, 'version' | 'config' | 'startTime' | 'endTime'> & {
  version?: number;
  startTime?: number | string | Date;
  endTime?: number | string | Date;
  config?: Record<string, { value?: string; secret?: boolean } | string>;
};

function plainConfig(config: HistoryEntry['config']): Record<string, string> {
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

const toIso = (time: HistoryEntry['startTime']) =>
  time instanceof Date ? time.toISOString() : typeof time === 'number' ? new Date(time * 1000).toISOString() : time;

/** One update of the history as the audit reads it; `version` as the backend numbers it, or as cli/audit-source.ts numbers a DIY backend's. */
export function updateInfoOf(entry: HistoryEntry, version: number): UpdateInfo {
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
