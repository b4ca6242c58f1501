// Retry policy: which failures are transient, how long to wait (exponential backoff with full
// jitter, or the server's Retry-After), and which requests may be repeated at all.

export interface RetryOptions {
  /** Retries after the first attempt (so maxRetries = 4 means at most 5 attempts). */
  maxRetries: number;
  /** Backoff base: attempt n (0-based) waits a random time in [0, min(maxDelayMs, baseDelayMs * 2^n)]. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the request fails instead. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryOptions = {
  maxRetries: 4,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
};

/** HTTP statuses that mean "try again later", the request was (most likely) not acted on. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/**
 * Connection-level failures worth another attempt. ECONNREFUSED is deliberately absent: a
 * server that refuses connections is down or the URL is wrong, retrying only delays the error.
 */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EAI_AGAIN',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

/** GET/HEAD/PUT/DELETE/OPTIONS are idempotent by HTTP semantics; POST/PATCH only if the caller says so. */
export function isIdempotentMethod(method: string): boolean {
  return ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'].includes(method.toUpperCase());
}

/** Full jitter backoff (AWS architecture blog): uniform in [0, min(cap, base * 2^attempt)]. */
export function backoffDelay(attempt: number, opts: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'>, random: () => number = Math.random): number {
  const ceiling = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * Parses a Retry-After header value: delta-seconds ("120") or an HTTP date. Returns
 * milliseconds to wait (>= 0), or undefined when absent or unparsable.
 */
export function parseRetryAfter(value: unknown, now: number = Date.now()): number | undefined {
  if (Array.isArray(value)) value = value[0];
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined;
  if (typeof value !== 'string') return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(parseFloat(v) * 1000);
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** What the retry layer needs to know of one attempt: an HTTP status, or a network error code. */
export interface AttemptOutcome {
  status?: number;
  /** The Retry-After header of a response. */
  retryAfter?: unknown;
  /** The code of a network failure (no response). */
  code?: string;
}

export interface Retried<T> {
  outcome: T;
  attempts: number;
  /** Set when the server asked to wait longer than maxRetryAfterMs, so the layer stopped. */
  retryAfterMs?: number;
}

export interface RetryLayer<T> {
  policy: RetryOptions;
  /** Only repeatable requests are retried; anything else gets exactly one attempt. */
  repeatable: boolean;
  /** The outcome is final (e.g. an expected status): no retry. */
  done: (outcome: T) => boolean;
  onRetry?: (attempt: number, delayMs: number, reason: string) => void;
}

/**
 * Retry as a layer around one plain attempt (as Octokit's plugin-retry does): repeats the attempt
 * on 429, 502/503/504 (honouring Retry-After on 429 and 503) and transient connection errors,
 * with full-jitter backoff, and returns the last outcome with the number of attempts made.
 */
export async function withRetry<T extends AttemptOutcome>(attempt: (n: number) => Promise<T>, layer: RetryLayer<T>): Promise<Retried<T>> {
  for (let n = 1; ; n++) {
    const outcome = await attempt(n);
    if (layer.done(outcome) || !layer.repeatable || n > layer.policy.maxRetries) return { outcome, attempts: n };
    let delayMs: number;
    let reason: string;
    if (outcome.status !== undefined) {
      if (!RETRYABLE_STATUSES.has(outcome.status)) return { outcome, attempts: n };
      const retryAfterMs = outcome.status === 429 || outcome.status === 503 ? parseRetryAfter(outcome.retryAfter) : undefined;
      if (retryAfterMs !== undefined && retryAfterMs > layer.policy.maxRetryAfterMs) return { outcome, attempts: n, retryAfterMs };
      delayMs = retryAfterMs ?? backoffDelay(n - 1, layer.policy);
      reason = `HTTP ${outcome.status}`;
    } else {
      if (outcome.code === undefined || !RETRYABLE_CODES.has(outcome.code)) return { outcome, attempts: n };
      delayMs = backoffDelay(n - 1, layer.policy);
      reason = outcome.code;
    }
    layer.onRetry?.(n, delayMs, reason);
    await sleep(delayMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
