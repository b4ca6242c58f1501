// The HTTP layer of the Mender client, in layers: authentication (token, or login and one re-login)
// around retry (./retry) around one plain attempt under the client-wide limit (./concurrency);
// then the mapping of every failure into a MenderApiError that names the endpoint and never
// carries a secret. TLS with a custom CA and timeouts are set on the agents and axios instance.
//
// axios is used with validateStatus: () => true and a raw text body, so HTTP failures never
// become axios errors (which hold the request config and its Authorization header); the only
// axios errors are network errors, and those are reduced to their code and message at once.
import * as http from 'node:http';
import * as https from 'node:https';
import axios, { AxiosInstance, AxiosResponse } from 'axios';
import type { z } from 'zod';
import { MenderApiError, MenderErrorContext, redact } from './errors';
import { AttemptOutcome, DEFAULT_RETRY, RETRYABLE_STATUSES, Retried, RetryOptions, isIdempotentMethod, withRetry } from './retry';
import { Semaphore } from './concurrency';
import { describeIssues, schemas } from './schemas';

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export type QueryValue = string | number | boolean | readonly (string | number)[] | undefined;

export interface TransportOptions {
  serverUrl: string;
  token?: string;
  username?: string;
  password?: string;
  /** PEM of the CA (or CAs) that signed the server certificate. */
  caCert?: string;
  timeoutMs: number;
  retry: RetryOptions;
  /** Requests in flight at once, client-wide. */
  concurrency: number;
  userAgent: string;
  onEvent?: (event: MenderClientEvent) => void;
}

/** Observability hook: no headers, no bodies, no secrets. */
export type MenderClientEvent =
  | { type: 'request'; method: string; path: string; attempt: number; inFlight: number }
  | { type: 'response'; method: string; path: string; attempt: number; status: number; durationMs: number }
  | { type: 'error'; method: string; path: string; attempt: number; code?: string; durationMs: number }
  | { type: 'retry'; method: string; path: string; attempt: number; delayMs: number; reason: string }
  | { type: 'login'; ok: boolean };

export interface RequestSpec {
  method: HttpMethod;
  /** Path template as in the API spec, e.g. /api/management/v1/inventory/devices/{id}. */
  path: string;
  pathParams?: Record<string, string>;
  query?: Record<string, QueryValue>;
  /** JSON body. */
  body?: unknown;
  /** A multipart body (sent again as it is on a re-login: its file parts are Blobs, read anew). */
  form?: FormData;
  /** Extra headers (never logged). */
  headers?: Record<string, string>;
  /** Successful statuses (default [200]). */
  expect?: readonly number[];
  /** Mark a POST/PATCH as safe to repeat (e.g. a search). GET/HEAD/PUT/DELETE always are. */
  idempotent?: boolean;
  context?: MenderErrorContext;
  timeoutMs?: number;
  /** Send the management token (default true). */
  auth?: boolean;
}

export interface RawResponse {
  status: number;
  headers: Record<string, unknown>;
  text: string;
}

export function expandPath(template: string, params: Record<string, string> | undefined, method: string, context?: MenderErrorContext): string {
  return template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const v = params?.[name];
    if (typeof v !== 'string' || v === '') {
      throw new MenderApiError({ kind: 'usage', method, path: template, context, serverMessage: `path parameter "${name}" must be a non-empty string` });
    }
    return encodeURIComponent(v);
  });
}

function buildQuery(query: Record<string, QueryValue> | undefined): string {
  if (!query) return '';
  const sp = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) sp.append(k, String(x));
    else sp.append(k, String(v));
  }
  const s = sp.toString();
  return s ? `?${s}` : '';
}

function header(headers: Record<string, unknown>, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  if (Array.isArray(v)) return v.length ? String(v[0]) : undefined;
  return v === undefined || v === null ? undefined : String(v);
}

interface NetworkFailure {
  code?: string;
  message: string;
  timeout: boolean;
}

/** Reduces an axios/network error to plain data right away (the error object holds headers). */
function networkFailure(err: unknown): NetworkFailure {
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown } } | undefined;
  const code = typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const timeout = code === 'ETIMEDOUT' || (code === 'ECONNABORTED' && /timeout/i.test(message));
  // axios reports "socket hang up" as ECONNRESET; keep the code precise when the cause has one.
  const causeCode = typeof e?.cause?.code === 'string' ? e.cause.code : undefined;
  return { code: causeCode && code === 'ERR_BAD_RESPONSE' ? causeCode : code, message, timeout };
}

function isNetworkFailure(x: AxiosResponse<unknown> | NetworkFailure): x is NetworkFailure {
  return (x as AxiosResponse<unknown>).status === undefined;
}

/** A request with its URL resolved, as the layers see it. */
interface PreparedRequest {
  spec: RequestSpec;
  url: string;
  /** Safe to send again: GET/HEAD/PUT/DELETE, or marked idempotent. */
  repeatable: boolean;
}

/** The outcome of one attempt: a response (any status) or a network failure. */
interface Outcome extends AttemptOutcome {
  response?: RawResponse;
  failure?: NetworkFailure;
}

export class Transport {
  readonly serverUrl: string;
  private readonly base: string;
  private readonly http: AxiosInstance;
  private readonly agents: { keepAlive: http.Agent; fresh: http.Agent };
  private readonly limiter: Semaphore;
  readonly retry: RetryOptions;
  private readonly timeoutMs: number;
  private readonly onEvent?: (event: MenderClientEvent) => void;
  // Credentials live in native private fields: not enumerable, not shown by util.inspect, not
  // serialized by JSON.stringify.
  readonly #token: string | undefined;
  readonly #username: string | undefined;
  readonly #password: string | undefined;
  #jwt: string | undefined;
  #login: Promise<string> | undefined;

  constructor(opts: TransportOptions) {
    let parsed: URL;
    try {
      parsed = new URL(opts.serverUrl);
    } catch {
      throw new Error(`Mender serverUrl "${opts.serverUrl}" is not a valid URL (expected e.g. https://mender.example.com)`);
    }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw new Error(`Mender serverUrl must be http(s), got "${parsed.protocol}"`);
    }
    if (parsed.username || parsed.password) {
      throw new Error('Mender serverUrl must not contain credentials; pass a token (or username/password) instead');
    }
    if (!opts.token && !(opts.username && opts.password)) {
      throw new Error('Mender client needs credentials: a personal access token (MENDER_ACCESS_TOKEN), or a username and password');
    }
    this.base = `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
    this.serverUrl = this.base;
    this.#token = opts.token;
    this.#username = opts.username;
    this.#password = opts.password;
    this.retry = opts.retry;
    this.timeoutMs = opts.timeoutMs;
    this.onEvent = opts.onEvent;
    this.limiter = new Semaphore(opts.concurrency);

    const isHttps = parsed.protocol === 'https:';
    const agentOpts: https.AgentOptions = opts.caCert ? { ca: opts.caCert } : {};
    // Two agents: keep-alive for requests that may be repeated, and a fresh connection for those
    // that may not (a POST written to a socket the server just closed fails with ECONNRESET,
    // and could not be retried).
    this.agents = isHttps
      ? { keepAlive: new https.Agent({ ...agentOpts, keepAlive: true, maxSockets: opts.concurrency }), fresh: new https.Agent({ ...agentOpts, keepAlive: false }) }
      : { keepAlive: new http.Agent({ keepAlive: true, maxSockets: opts.concurrency }), fresh: new http.Agent({ keepAlive: false }) };

    this.http = axios.create({
      timeout: opts.timeoutMs,
      validateStatus: () => true,
      maxRedirects: 0,
      responseType: 'text',
      transformResponse: [(d: unknown) => d],
      maxBodyLength: Infinity,
      maxContentLength: Infinity,
      transitional: { clarifyTimeoutError: true, silentJSONParsing: true, forcedJSONParsing: false },
      headers: { 'User-Agent': opts.userAgent },
    });
  }

  /** Texts that must never appear in an error message. */
  private secrets(): string[] {
    const s: string[] = [];
    if (this.#token) s.push(this.#token);
    if (this.#jwt) s.push(this.#jwt);
    if (this.#password) {
      s.push(this.#password);
      s.push(Buffer.from(`${this.#username}:${this.#password}`).toString('base64'));
    }
    return s;
  }

  private clean(text: string | undefined): string | undefined {
    return text === undefined ? undefined : redact(text, this.secrets());
  }

  private emit(event: MenderClientEvent): void {
    try {
      this.onEvent?.(event);
    } catch {
      // an observer must not break requests
    }
  }

  private async bearer(): Promise<string> {
    if (this.#token) return this.#token;
    if (this.#jwt) return this.#jwt;
    if (!this.#login) {
      this.#login = this.login().finally(() => {
        this.#login = undefined;
      });
    }
    return this.#login;
  }

  private async login(): Promise<string> {
    const basic = Buffer.from(`${this.#username}:${this.#password}`).toString('base64');
    const path = '/api/management/v1/useradm/auth/login';
    let res: RawResponse;
    try {
      res = await this.send({
        method: 'POST',
        path,
        auth: false,
        idempotent: true, // a login changes nothing on the server
        headers: { Authorization: `Basic ${basic}`, Accept: 'application/jwt, application/json' },
        context: { action: `logging in as ${this.#username}` },
      });
    } catch (e) {
      this.emit({ type: 'login', ok: false });
      if (e instanceof MenderApiError && e.status === 401) {
        throw new MenderApiError({
          kind: 'http',
          method: 'POST',
          path,
          serverUrl: this.serverUrl,
          status: 401,
          serverMessage: e.serverMessage,
          requestId: e.requestId,
          context: e.context,
          hint: 'Login failed: check the Mender username and password (or use a personal access token instead).',
        });
      }
      throw e;
    }
    let text = res.text.trim();
    if (text.startsWith('"')) {
      try {
        text = String(JSON.parse(text));
      } catch {
        // validated below
      }
    }
    const parsed = schemas().Jwt.safeParse(text);
    if (!parsed.success) {
      this.emit({ type: 'login', ok: false });
      throw new MenderApiError({ kind: 'validation', method: 'POST', path, serverUrl: this.serverUrl, details: ['(body): expected a JWT (header.payload.signature)'] });
    }
    this.#jwt = parsed.data;
    this.emit({ type: 'login', ok: true });
    return parsed.data;
  }

  /**
   * Sends a request through the layers: authentication (re-login once on 401 with password
   * auth) around retry (transient failures of repeatable requests) around one plain attempt
   * (under the client-wide limit). Returns the response when its status is expected; every other
   * outcome is a MenderApiError.
   */
  async send(spec: RequestSpec): Promise<RawResponse> {
    const expect = spec.expect ?? [200];
    const request: PreparedRequest = {
      spec,
      url: this.base + expandPath(spec.path, spec.pathParams, spec.method, spec.context) + buildQuery(spec.query),
      repeatable: isIdempotentMethod(spec.method) || spec.idempotent === true,
    };
    const retried = await this.authenticated(spec, (bearer) =>
      withRetry((n) => this.attempt(request, bearer, n), {
        policy: this.retry,
        repeatable: request.repeatable,
        done: (o) => o.response !== undefined && expect.includes(o.response.status),
        onRetry: (attempt, delayMs, reason) => this.emit({ type: 'retry', method: spec.method, path: spec.path, attempt, delayMs, reason }),
      }),
    );
    const { response } = retried.outcome;
    if (response && expect.includes(response.status)) return response;
    throw this.failure(request, retried);
  }

  /** The auth layer: the bearer for the request, and one re-login when a login's JWT is refused. */
  private async authenticated(spec: RequestSpec, exchange: (bearer: string | undefined) => Promise<Retried<Outcome>>): Promise<Retried<Outcome>> {
    if (spec.auth === false) return exchange(undefined);
    const bearer = await this.bearer();
    const retried = await exchange(bearer);
    if (retried.outcome.status !== 401 || this.#token) return retried;
    // The JWT from the login may have expired: log in again once. A 401 means the request was
    // not acted on, so repeating it is safe even when it is not idempotent.
    if (this.#jwt === bearer) this.#jwt = undefined;
    return exchange(await this.bearer());
  }

  /** One plain attempt: a response of any status, or a network failure reduced to plain data. */
  private async attempt(request: PreparedRequest, bearer: string | undefined, attempt: number): Promise<Outcome> {
    const { spec } = request;
    const event = { method: spec.method, path: spec.path, attempt };
    const headers: Record<string, string> = { Accept: 'application/json', ...spec.headers };
    let data: unknown;
    if (spec.form) {
      // axios streams a FormData and sets its Content-Type (with the boundary) and Content-Length.
      data = spec.form;
    } else if (spec.body !== undefined) {
      data = JSON.stringify(spec.body);
      headers['Content-Type'] = 'application/json';
    }
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    const agent = request.repeatable ? this.agents.keepAlive : this.agents.fresh;
    const started = Date.now();
    const sent = await this.limiter.run(async (): Promise<AxiosResponse<unknown> | NetworkFailure> => {
      this.emit({ type: 'request', ...event, inFlight: this.limiter.inFlight });
      try {
        return await this.http.request({ method: spec.method, url: request.url, data, headers, timeout: spec.timeoutMs ?? this.timeoutMs, httpAgent: agent, httpsAgent: agent });
      } catch (err) {
        return networkFailure(err);
      }
    });
    const durationMs = Date.now() - started;
    if (isNetworkFailure(sent)) {
      this.emit({ type: 'error', ...event, code: sent.code, durationMs });
      return { code: sent.code, failure: sent };
    }
    const responseHeaders = sent.headers as Record<string, unknown>;
    this.noteServerDate(header(responseHeaders, 'date'), started + durationMs);
    const text = typeof sent.data === 'string' ? sent.data : sent.data === undefined || sent.data === null ? '' : String(sent.data);
    this.emit({ type: 'response', ...event, status: sent.status, durationMs });
    return { status: sent.status, retryAfter: responseHeaders['retry-after'], response: { status: sent.status, headers: responseHeaders, text } };
  }

  /** The error mapping: the last outcome of a request that did not succeed, as a MenderApiError. */
  private failure(request: PreparedRequest, retried: Retried<Outcome>): MenderApiError {
    const { spec, repeatable } = request;
    const { outcome, attempts, retryAfterMs } = retried;
    const base = { method: spec.method, path: spec.path, serverUrl: this.serverUrl, context: spec.context, attempts };
    if (outcome.response) {
      const { status, headers, text } = outcome.response;
      const body = this.errorBody(text, headers);
      if (retryAfterMs !== undefined) {
        const seconds = Math.ceil(retryAfterMs / 1000);
        return new MenderApiError({ ...base, kind: 'http', status, ...body, retryAfterSeconds: seconds,
          hint: `The server asked to wait ${seconds}s before retrying, longer than the client's limit of ${Math.round(this.retry.maxRetryAfterMs / 1000)}s; try again later.` });
      }
      let hint: string | undefined;
      if (status === 401 && this.#token) {
        hint = 'Authentication failed: check that the personal access token (MENDER_ACCESS_TOKEN / mender:token) is valid, not expired, and was issued by this server.';
      } else if (RETRYABLE_STATUSES.has(status) && !repeatable) {
        hint = `The server answered ${status}; this request is not safe to repeat blindly, so it was not retried. Check on the server whether it took effect before trying again.`;
      }
      return new MenderApiError({ ...base, kind: 'http', status, ...body, hint });
    }
    const f = outcome.failure as NetworkFailure;
    const notRepeated = !repeatable && f.code !== 'ECONNREFUSED' && f.code !== 'ENOTFOUND'
      ? 'The request may or may not have reached the server; it is not safe to repeat blindly, so it was not retried. Check on the server whether it took effect.'
      : undefined;
    return new MenderApiError({ ...base, kind: f.timeout ? 'timeout' : 'network', code: f.code, serverMessage: this.clean(f.message), hint: notRepeated });
  }

  private errorBody(text: string, headers: Record<string, unknown>): { serverMessage?: string; requestId?: string } {
    let serverMessage: string | undefined;
    let requestId = header(headers, 'x-men-requestid');
    if (text.trim() !== '') {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const parsed = json === undefined ? undefined : schemas().Error.safeParse(json);
      if (parsed?.success) {
        serverMessage = parsed.data.error;
        requestId = parsed.data.request_id ?? requestId;
      } else {
        const flat = text.replace(/\s+/g, ' ').trim();
        serverMessage = flat.length > 300 ? `${flat.slice(0, 300)}...` : flat;
      }
    }
    return { serverMessage: this.clean(serverMessage), requestId };
  }

  /** Sends and validates a JSON body against a schema; a mismatch is a 'validation' error. */
  async json<S extends z.ZodType>(spec: RequestSpec, schema: S): Promise<{ data: z.infer<S>; res: RawResponse }> {
    const res = await this.send(spec);
    return { data: this.validate(spec, res, schema), res };
  }

  validate<S extends z.ZodType>(spec: RequestSpec, res: RawResponse, schema: S): z.infer<S> {
    let json: unknown;
    try {
      json = JSON.parse(res.text);
    } catch {
      const flat = res.text.replace(/\s+/g, ' ').trim();
      throw this.invalidResponse(spec, res, [`(body): expected JSON, got ${flat === '' ? 'an empty body' : `"${this.clean(flat.slice(0, 120))}"`}`]);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw this.invalidResponse(spec, res, describeIssues(parsed.error).map((l) => this.clean(l) as string));
    }
    return parsed.data;
  }

  /** A response that is not what the spec promises: named by endpoint, with what did not match. */
  private invalidResponse(spec: RequestSpec, res: RawResponse, details: string[]): MenderApiError {
    return new MenderApiError({ kind: 'validation', method: spec.method, path: spec.path, serverUrl: this.serverUrl, status: res.status, context: spec.context, details });
  }

  /** A header of a successful response that must be there (e.g. Location). */
  requireHeader(spec: RequestSpec, res: RawResponse, name: string): string {
    const v = header(res.headers, name);
    if (v === undefined || v.trim() === '') {
      throw new MenderApiError({
        kind: 'validation',
        method: spec.method,
        path: spec.path,
        serverUrl: this.serverUrl,
        status: res.status,
        context: spec.context,
        details: [`header ${name}: missing`],
      });
    }
    return v;
  }

  header(res: RawResponse, name: string): string | undefined {
    return header(res.headers, name);
  }

  get concurrency(): number {
    return this.limiter.limit;
  }

  get inFlight(): number {
    return this.limiter.inFlight;
  }

  /** Closes idle keep-alive connections. The client must not be used afterwards. */
  /** The server's clock as its last Date header said, and when (local ms) that answer came. */
  private serverDate?: { server: number; local: number };

  private noteServerDate(value: string | undefined, local: number): void {
    const server = value === undefined ? NaN : Date.parse(value);
    if (!Number.isNaN(server)) this.serverDate = { server, local };
  }

  /**
   * The server's time now (ms), from its last Date header: soaks and device timeouts are
   * measured in Mender's time, which stamps the deployments, not in the runner's. Before any
   * answer, or from a server that sends no Date, the local clock.
   */
  serverNow(): number {
    return this.serverDate ? this.serverDate.server + (Date.now() - this.serverDate.local) : Date.now();
  }

  close(): void {
    this.agents.keepAlive.destroy();
    this.agents.fresh.destroy();
  }
}

export { DEFAULT_RETRY };
