// Errors for people: what failed (endpoint), on what (device / artifact / deployment), what the
// server answered (status, Mender's `error` and `request_id`) and what to do about it.
//
// Secrets: a MenderApiError never holds a request config, headers or the underlying axios error
// (those carry the Authorization header). Everything it holds is plain data, and every text that
// reaches it goes through `redact` with the client's known secrets first.

/** What the caller was acting on, shown in messages ("device 1234", "artifact release-1.2"). */
export interface MenderErrorContext {
  deviceId?: string;
  artifactName?: string;
  artifactId?: string;
  deploymentId?: string;
  deploymentName?: string;
  /** Free text, e.g. "while aborting pending deployments". */
  action?: string;
}

export type MenderErrorKind =
  /** The server answered with a non-success HTTP status. */
  | 'http'
  /** The server answered, but the body/headers did not match what the Mender API promises. */
  | 'validation'
  /** No usable answer: connection refused/reset, DNS, TLS. */
  | 'network'
  /** No answer within the request timeout. */
  | 'timeout'
  /** The client was used wrongly (bad options, missing credentials). */
  | 'usage';

export interface MenderApiErrorInit {
  kind: MenderErrorKind;
  method: string;
  /** The endpoint's path template, e.g. /api/management/v1/inventory/devices/{id}. */
  path: string;
  serverUrl?: string;
  status?: number;
  /** Mender's `error` field, or a short description of what went wrong. */
  serverMessage?: string;
  requestId?: string;
  /** Node/axios error code (ECONNRESET, ETIMEDOUT, CERT_HAS_EXPIRED...). */
  code?: string;
  context?: MenderErrorContext;
  /** Validation problems, one per line. */
  details?: string[];
  attempts?: number;
  hint?: string;
  /** Seconds the server asked us to wait (429), when it was more than we were willing to. */
  retryAfterSeconds?: number;
}

function describeContext(ctx: MenderErrorContext | undefined): string {
  if (!ctx) return '';
  const parts: string[] = [];
  if (ctx.deviceId) parts.push(`device ${ctx.deviceId}`);
  if (ctx.artifactName) parts.push(`artifact "${ctx.artifactName}"`);
  if (ctx.artifactId) parts.push(`artifact id ${ctx.artifactId}`);
  if (ctx.deploymentName) parts.push(`deployment "${ctx.deploymentName}"`);
  if (ctx.deploymentId) parts.push(`deployment ${ctx.deploymentId}`);
  if (ctx.action) parts.push(ctx.action);
  return parts.length ? ` (${parts.join(', ')})` : '';
}

function subjectOf(ctx: MenderErrorContext | undefined): string {
  if (ctx?.deviceId) return `device ${ctx.deviceId}`;
  if (ctx?.deploymentId) return `deployment ${ctx.deploymentId}`;
  if (ctx?.artifactId) return `artifact id ${ctx.artifactId}`;
  if (ctx?.artifactName) return `artifact "${ctx.artifactName}"`;
  return 'the requested object';
}

/** A default hint for an error, unless the caller supplied one. */
export function defaultHint(init: MenderApiErrorInit): string | undefined {
  const server = init.serverUrl ?? 'the Mender server';
  switch (init.kind) {
    case 'validation':
      return `The answer of ${server} does not match the Mender API this client was written for; check that the server (or proxy in front of it) is a Mender server of a supported version.`;
    case 'timeout':
      return `No answer from ${server} in time; check the server is healthy or raise the client's timeoutMs.`;
    case 'usage':
      return undefined;
    case 'network': {
      const code = init.code ?? '';
      if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
        return `Cannot reach ${server}; check the server URL (mender:serverUrl / MENDER_SERVER_URL) and that the server is running.`;
      }
      if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|TLS|SSL/i.test(code)) {
        return `TLS verification of ${server} failed; if it uses a private CA, pass its PEM certificate as caCert (mender:caCert).`;
      }
      return `The connection to ${server} failed; it was retried where that is safe. Check the network and the server's health.`;
    }
    case 'http':
      break;
  }
  const status = init.status ?? 0;
  if (status === 401) {
    return 'Authentication failed: check that the personal access token (MENDER_ACCESS_TOKEN / mender:token) is valid and not expired, or that the username and password are right.';
  }
  if (status === 403) return 'The token is valid but not allowed to do this; use a token of a user with the needed role (or a plan that has this feature).';
  if (status === 404) return `${subjectOf(init.context)} does not exist on ${server} (deleted, or a wrong id/name?).`;
  if (status === 409) return 'The server reports a conflict with existing state (e.g. a duplicate artifact, or an artifact used by an active deployment).';
  if (status === 422) return 'The server understood the request but cannot act on it (e.g. no artifact for the devices\' device type, or the deployment is already finished).';
  if (status === 400) return 'The server rejected the request as invalid; the details are in its message above.';
  if (status === 429) return 'The server is rate limiting; retries were exhausted. Lower the concurrency or try again later.';
  if (status >= 500) return `${server} had an internal problem; it was retried where that is safe. Try again later, and check the server logs for the request_id.`;
  return undefined;
}

export class MenderApiError extends Error {
  readonly kind: MenderErrorKind;
  readonly method: string;
  readonly path: string;
  readonly status?: number;
  readonly serverMessage?: string;
  readonly requestId?: string;
  readonly code?: string;
  readonly context?: MenderErrorContext;
  readonly details?: string[];
  readonly attempts?: number;
  readonly hint?: string;
  readonly retryAfterSeconds?: number;

  constructor(init: MenderApiErrorInit) {
    const hint = init.hint ?? defaultHint(init);
    super(MenderApiError.format(init, hint));
    this.name = 'MenderApiError';
    this.kind = init.kind;
    this.method = init.method;
    this.path = init.path;
    this.status = init.status;
    this.serverMessage = init.serverMessage;
    this.requestId = init.requestId;
    this.code = init.code;
    this.context = init.context;
    this.details = init.details;
    this.attempts = init.attempts;
    this.hint = hint;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }

  private static format(init: MenderApiErrorInit, hint: string | undefined): string {
    const where = `${init.method} ${init.path}${describeContext(init.context)}`;
    let what: string;
    switch (init.kind) {
      case 'http':
        what = `failed with HTTP ${init.status}`;
        break;
      case 'validation':
        what = 'returned a response that does not match the Mender API';
        break;
      case 'timeout':
        what = 'timed out';
        break;
      case 'network':
        what = `failed: connection error${init.code ? ` ${init.code}` : ''}`;
        break;
      case 'usage':
        what = 'cannot be sent';
        break;
    }
    let msg = `Mender API ${where} ${what}`;
    if (init.serverMessage) msg += `: ${init.serverMessage}`;
    if (init.requestId) msg += ` (request_id ${init.requestId})`;
    if (init.attempts && init.attempts > 1) msg += ` after ${init.attempts} attempts`;
    if (init.details?.length) msg += `\n  - ${init.details.join('\n  - ')}`;
    if (hint) msg += `\n  Hint: ${hint}`;
    return msg;
  }

  /** Plain data, safe to log or serialize (no headers, no token, no request config). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      kind: this.kind,
      method: this.method,
      path: this.path,
      status: this.status,
      serverMessage: this.serverMessage,
      requestId: this.requestId,
      code: this.code,
      context: this.context,
      details: this.details,
      attempts: this.attempts,
      hint: this.hint,
    };
  }
}

export function isMenderApiError(e: unknown): e is MenderApiError {
  return e instanceof MenderApiError;
}

/** True for "the object is not there" (HTTP 404). */
export function isNotFound(e: unknown): boolean {
  return e instanceof MenderApiError && e.kind === 'http' && e.status === 404;
}

/**
 * Replaces every occurrence of a secret (token, password, base64 basic credentials) in a text.
 * Secrets shorter than 4 characters are ignored (they would mangle ordinary words).
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('[REDACTED]');
  }
  // Belt and braces: never let a bearer/basic credential through, whatever it is.
  return out.replace(/\b(Bearer|Basic)\s+[A-Za-z0-9\-._~+/]+=*/g, '$1 [REDACTED]');
}
