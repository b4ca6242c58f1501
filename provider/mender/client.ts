// The Mender management API client: typed methods over the endpoints the fleet resources need.
// Every request is one the Mender OpenAPI spec describes (see the path templates below); every
// body read is validated against the schemas in ./schemas.
//
// A client holds its HTTP agents and credentials: the dynamic provider builds one from the stack
// configuration it is given (provider/settings.ts), the program another (index.ts), and the CLI
// its own; none is shared across the process boundary Pulumi draws between program and provider.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MenderApiError, MenderErrorContext } from './errors';
import { DEFAULT_RETRY } from './retry';
import { mapLimited, mapLimitedSettled } from './concurrency';
import { PageResult, collect, paginate, parseTotalCount } from './paging';
import { MenderClientEvent, QueryValue, RequestSpec, Transport } from './transport';
import {
  Artifact,
  AttributeScope,
  AttributeValue,
  Deployment,
  DeploymentDevice,
  DeploymentStatistics,
  DeviceDeployment,
  DeviceDeploymentStatus,
  DeviceInventory,
  schemas,
} from './schemas';

export interface MenderClientOptions {
  /** e.g. https://mender.example.com (a base path is kept: https://host/mender). */
  serverUrl: string;
  /** Personal access token (sent as Bearer). Takes precedence over username/password. */
  token?: string;
  /** Login with user and password (POST /api/management/v1/useradm/auth/login, Basic auth). */
  username?: string;
  password?: string;
  /** PEM of the CA(s) that signed the server certificate, for servers with a private CA. */
  caCert?: string;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
  /** Timeout of an artifact upload (default 10 min). */
  uploadTimeoutMs?: number;
  /** Retries of a repeatable request after the first attempt (default 4). */
  maxRetries?: number;
  /** Backoff base delay (default 250 ms); attempt n waits random(0, min(maxDelayMs, base*2^n)). */
  baseDelayMs?: number;
  /** Backoff ceiling (default 8 s). */
  maxDelayMs?: number;
  /** A longer Retry-After fails the request instead of waiting (default 60 s). */
  maxRetryAfterMs?: number;
  /** Requests in flight at once, client-wide, and the default limit of mapLimited (default 8). */
  concurrency?: number;
  /** Page size of list calls (default 100; Mender allows up to 500). */
  perPage?: number;
  userAgent?: string;
  /** Observability: requests, responses, retries, logins. Carries no headers or secrets. */
  onEvent?: (event: MenderClientEvent) => void;
}

export type { MenderClientEvent };

export interface ArtifactQuery {
  name?: string;
  description?: string;
  device_type?: string;
}

export interface UploadArtifactOptions {
  description?: string;
  timeoutMs?: number;
  context?: MenderErrorContext;
}

export interface NewDeployment {
  name: string;
  artifact_name: string;
  devices: string[];
  force_installation?: boolean;
}

export type DeploymentListStatus = 'inprogress' | 'finished' | 'pending';

export interface DeploymentQuery {
  /** Exact deployment name(s) (v2 API). */
  name?: string | string[];
  id?: string | string[];
  status?: DeploymentListStatus;
  type?: 'software' | 'configuration';
  sort?: 'asc' | 'desc';
  created_before?: number;
  created_after?: number;
}

export interface DeploymentPageQuery extends DeploymentQuery {
  page?: number;
  per_page?: number;
}

export type DeploymentDeviceStatusFilter = DeviceDeploymentStatus | 'pause' | 'active' | 'finished';

export type FilterOperator = '$eq' | '$in' | '$nin' | '$gt' | '$gte' | '$lt' | '$lte' | '$ltne' | '$ne' | '$exists' | '$regex';

export interface FilterPredicate {
  scope: AttributeScope;
  attribute: string;
  type: FilterOperator;
  value: string | number | boolean | string[] | number[];
}

export interface SortCriteria {
  scope: AttributeScope;
  attribute: string;
  order: 'asc' | 'desc';
}

export interface SelectAttribute {
  scope: AttributeScope;
  attribute: string;
}

export interface DeviceSearch {
  filters?: FilterPredicate[];
  attributes?: SelectAttribute[];
  sort?: SortCriteria[];
  device_ids?: string[];
  text?: string;
  per_page?: number;
}

export interface DeviceConfigurationState {
  configured: Record<string, string>;
  reported: Record<string, string>;
  deployment_id?: string;
  reported_ts?: string;
  updated_ts?: string;
}

const P = {
  login: '/api/management/v1/useradm/auth/login',
  artifacts: '/api/management/v1/deployments/artifacts',
  artifactsList: '/api/management/v1/deployments/artifacts/list',
  artifact: '/api/management/v1/deployments/artifacts/{id}',
  deploymentsV1: '/api/management/v1/deployments/deployments',
  deploymentsV2: '/api/management/v2/deployments/deployments',
  deployment: '/api/management/v1/deployments/deployments/{id}',
  deploymentStatus: '/api/management/v1/deployments/deployments/{deployment_id}/status',
  deploymentStatistics: '/api/management/v1/deployments/deployments/{deployment_id}/statistics',
  deploymentDevices: '/api/management/v1/deployments/deployments/{deployment_id}/devices/list',
  deploymentDeviceList: '/api/management/v1/deployments/deployments/{id}/device_list',
  deviceDeployments: '/api/management/v1/deployments/deployments/devices/{id}',
  inventorySearch: '/api/management/v2/inventory/filters/search',
  inventoryDevice: '/api/management/v1/inventory/devices/{id}',
  deviceConfig: '/api/management/v1/deviceconfig/configurations/device/{deviceId}',
  deviceConfigDeploy: '/api/management/v1/deviceconfig/configurations/device/{deviceId}/deploy',
} as const;

/** The endpoint templates the client uses (for tests and docs). */
export const MENDER_ENDPOINTS: Readonly<Record<string, string>> = P;

/** The last path segment of a Location header (the id of the created object). */
function idFromLocation(location: string): string | undefined {
  let pathname: string;
  try {
    pathname = new URL(location, 'http://placeholder.invalid').pathname;
  } catch {
    return undefined;
  }
  const seg = pathname.split('/').filter(Boolean).pop();
  return seg ? decodeURIComponent(seg) : undefined;
}

/** The value of an inventory attribute, or undefined when the device does not have it. */
export function getAttribute(device: Pick<DeviceInventory, 'attributes'>, scope: AttributeScope, name: string): AttributeValue | undefined {
  return device.attributes?.find((a) => a.scope === scope && a.name === name)?.value;
}

/** An inventory attribute as a string (first element of an array value), or undefined. */
export function getAttributeString(device: Pick<DeviceInventory, 'attributes'>, scope: AttributeScope, name: string): string | undefined {
  const v = getAttribute(device, scope, name);
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v.length ? String(v[0]) : undefined;
  return String(v);
}

export class MenderClient {
  readonly #t: Transport;
  readonly #perPage: number;
  readonly #uploadTimeoutMs: number;

  constructor(options: MenderClientOptions) {
    const concurrency = options.concurrency ?? 8;
    this.#t = new Transport({
      serverUrl: options.serverUrl,
      token: options.token || undefined,
      username: options.username,
      password: options.password,
      caCert: options.caCert,
      timeoutMs: options.timeoutMs ?? 30_000,
      retry: {
        maxRetries: options.maxRetries ?? DEFAULT_RETRY.maxRetries,
        baseDelayMs: options.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs,
        maxDelayMs: options.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs,
        maxRetryAfterMs: options.maxRetryAfterMs ?? DEFAULT_RETRY.maxRetryAfterMs,
      },
      concurrency,
      userAgent: options.userAgent ?? 'mender-fleet',
      onEvent: options.onEvent,
    });
    this.#perPage = Math.min(500, Math.max(1, options.perPage ?? 100));
    this.#uploadTimeoutMs = options.uploadTimeoutMs ?? 600_000;
  }

  get serverUrl(): string {
    return this.#t.serverUrl;
  }

  /** Client-wide limit of requests in flight (also the default of mapLimited). */
  get concurrency(): number {
    return this.#t.concurrency;
  }

  /** Maps fn over items with at most `limit` (default: the client's concurrency) in flight; fail-fast. */
  mapLimited<T, R>(items: readonly T[], fn: (item: T, index: number) => Promise<R>, limit: number = this.concurrency): Promise<R[]> {
    return mapLimited(items, limit, fn);
  }

  /** Like mapLimited, but runs every item and reports each outcome. */
  mapLimitedSettled<T, R>(items: readonly T[], fn: (item: T, index: number) => Promise<R>, limit: number = this.concurrency): Promise<PromiseSettledResult<R>[]> {
    return mapLimitedSettled(items, limit, fn);
  }

  /** The server's time now (ms), from its Date header (transport.ts, serverNow). */
  serverNow(): number {
    return this.#t.serverNow();
  }

  /** Releases idle connections. */
  close(): void {
    this.#t.close();
  }

  /** Custom inspect/JSON: the client holds credentials, show only the server. */
  toJSON(): Record<string, unknown> {
    return { serverUrl: this.serverUrl };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `MenderClient(${this.serverUrl})`;
  }

  // ---------------------------------------------------------------- paging helper

  private async *pagedGet<T>(spec: RequestSpec, schema: import('zod').ZodType<T[]>, perPage: number): AsyncGenerator<T, void, undefined> {
    const t = this.#t;
    yield* paginate<T>(async (page, per_page): Promise<PageResult<T>> => {
      const s: RequestSpec = { ...spec, query: { ...spec.query, page, per_page } };
      const { data, res } = await t.json(s, schema);
      return { items: data, total: parseTotalCount(t.header(res, 'x-total-count')), link: t.header(res, 'link') };
    }, { perPage });
  }

  // ---------------------------------------------------------------- artifacts

  /** Every artifact matching the query (GET .../artifacts/list, all pages). */
  iterateArtifacts(query: ArtifactQuery = {}): AsyncGenerator<Artifact, void, undefined> {
    const q: Record<string, QueryValue> = { name: query.name, description: query.description, device_type: query.device_type };
    return this.pagedGet<Artifact>({ method: 'GET', path: P.artifactsList, query: q, context: query.name ? { artifactName: query.name } : undefined }, schemas().ArtifactList, this.#perPage);
  }

  listArtifacts(query: ArtifactQuery = {}): Promise<Artifact[]> {
    return collect(this.iterateArtifacts(query));
  }

  /** The artifacts with exactly this name (one per device-type set; usually zero or one). */
  async findArtifactsByName(name: string): Promise<Artifact[]> {
    const all = await this.listArtifacts({ name });
    return all.filter((a) => a.name === name);
  }

  /**
   * Uploads a .mender file (multipart POST .../artifacts with `size`, `description`, `artifact`
   * last). Streams the file. Never retried: the caller checks findArtifactsByName after a failure.
   */
  async uploadArtifact(filePath: string, options: UploadArtifactOptions = {}): Promise<{ id: string }> {
    const fileName = path.basename(filePath);
    const context: MenderErrorContext = { action: `uploading ${fileName}`, ...options.context };
    let size: number;
    try {
      const st = await fs.promises.stat(filePath);
      if (!st.isFile()) throw new Error('not a regular file');
      size = st.size;
    } catch (e) {
      throw new MenderApiError({ kind: 'usage', method: 'POST', path: P.artifacts, context, serverMessage: `cannot read artifact file ${filePath}: ${(e as Error).message}` });
    }
    // Mender reads the parts in order and wants `size` before the artifact, which comes last.
    const form = new FormData();
    form.append('size', String(size));
    if (options.description !== undefined) form.append('description', options.description);
    form.append('artifact', await fs.openAsBlob(filePath, { type: 'application/octet-stream' }), fileName);
    const spec: RequestSpec = {
      method: 'POST',
      path: P.artifacts,
      expect: [201],
      context,
      timeoutMs: options.timeoutMs ?? this.#uploadTimeoutMs,
      form,
    };
    const res = await this.#t.send(spec);
    const id = idFromLocation(this.#t.requireHeader(spec, res, 'location'));
    if (!id) throw new MenderApiError({ kind: 'validation', method: 'POST', path: P.artifacts, serverUrl: this.serverUrl, status: res.status, context, details: ['header Location: no artifact id in it'] });
    return { id };
  }

  /** DELETE .../artifacts/{id}. */
  async deleteArtifact(id: string, context?: MenderErrorContext): Promise<void> {
    await this.#t.send({ method: 'DELETE', path: P.artifact, pathParams: { id }, expect: [204], context: { artifactId: id, ...context } });
  }

  // ---------------------------------------------------------------- deployments

  /**
   * POST /api/management/v1/deployments/deployments. Returns the new deployment's id (from the
   * Location header). NOT retried: a failure may still have created it; look it up by name.
   */
  async createDeployment(input: NewDeployment, context?: MenderErrorContext): Promise<{ id: string }> {
    const body: Record<string, unknown> = { name: input.name, artifact_name: input.artifact_name, devices: [...input.devices] };
    if (input.force_installation !== undefined) body.force_installation = input.force_installation;
    const spec: RequestSpec = {
      method: 'POST',
      path: P.deploymentsV1,
      body,
      expect: [201],
      context: { deploymentName: input.name, artifactName: input.artifact_name, ...context },
    };
    const res = await this.#t.send(spec);
    const id = idFromLocation(this.#t.requireHeader(spec, res, 'location'));
    if (!id) throw new MenderApiError({ kind: 'validation', method: 'POST', path: P.deploymentsV1, serverUrl: this.serverUrl, status: res.status, context: spec.context, details: ['header Location: no deployment id in it'] });
    return { id };
  }

  private deploymentQuery(q: DeploymentQuery): Record<string, QueryValue> {
    return { id: q.id, name: q.name, status: q.status, type: q.type, sort: q.sort, created_before: q.created_before, created_after: q.created_after };
  }

  /** Every deployment matching the query (all pages). */
  iterateDeployments(query: DeploymentQuery = {}): AsyncGenerator<Deployment, void, undefined> {
    return this.pagedGet<Deployment>({ method: 'GET', path: P.deploymentsV2, query: this.deploymentQuery(query) }, schemas().DeploymentList, this.#perPage);
  }

  listAllDeployments(query: DeploymentQuery = {}): Promise<Deployment[]> {
    return collect(this.iterateDeployments(query));
  }

  /** Deployments with exactly this name (newest first when the server sorts so). */
  async findDeploymentsByName(name: string, query: Omit<DeploymentQuery, 'name' | 'id'> = {}): Promise<Deployment[]> {
    const all = await this.listAllDeployments({ ...query, name });
    return all.filter((d) => d.name === name);
  }

  async getDeployment(id: string, context?: MenderErrorContext): Promise<Deployment> {
    const { data } = await this.#t.json({ method: 'GET', path: P.deployment, pathParams: { id }, context: { deploymentId: id, ...context } }, schemas().Deployment);
    return data;
  }

  async getDeploymentStatistics(id: string, context?: MenderErrorContext): Promise<DeploymentStatistics> {
    const { data } = await this.#t.json({ method: 'GET', path: P.deploymentStatistics, pathParams: { deployment_id: id }, context: { deploymentId: id, ...context } }, schemas().Statistics);
    return data;
  }

  /** The devices of a deployment with their status (GET .../{id}/devices/list, all pages). */
  iterateDeploymentDevices(id: string, options: { status?: DeploymentDeviceStatusFilter } = {}): AsyncGenerator<DeploymentDevice, void, undefined> {
    return this.pagedGet<DeploymentDevice>(
      { method: 'GET', path: P.deploymentDevices, pathParams: { deployment_id: id }, query: { status: options.status }, context: { deploymentId: id } },
      schemas().DeviceWithImageList,
      this.#perPage,
    );
  }

  listDeploymentDevices(id: string, options: { status?: DeploymentDeviceStatusFilter } = {}): Promise<DeploymentDevice[]> {
    return collect(this.iterateDeploymentDevices(id, options));
  }

  /**
   * How many device deployment records with this status the deployment has (one page of one,
   * read from X-Total-Count). Records exist only for devices that polled, or were aborted.
   */
  async countDeploymentDevices(id: string, status: DeploymentDeviceStatusFilter): Promise<number> {
    const spec: RequestSpec = { method: 'GET', path: P.deploymentDevices, pathParams: { deployment_id: id }, query: { status, page: 1, per_page: 1 }, context: { deploymentId: id } };
    const { data, res } = await this.#t.json(spec, schemas().DeviceWithImageList);
    return parseTotalCount(this.#t.header(res, 'x-total-count')) ?? data.length;
  }

  /**
   * The devices a deployment targets (GET .../{id}/device_list): the constructor's list, whether
   * or not the devices have polled yet.
   */
  async getDeploymentDeviceList(id: string, context?: MenderErrorContext): Promise<string[]> {
    const { data } = await this.#t.json({ method: 'GET', path: P.deploymentDeviceList, pathParams: { id }, context: { deploymentId: id, ...context } }, schemas().DeviceIdList);
    return data;
  }

  /** PUT .../{id}/status {status:"aborted"}. A finished deployment answers 422 (a MenderApiError). */
  async abortDeployment(id: string, context?: MenderErrorContext): Promise<void> {
    await this.#t.send({ method: 'PUT', path: P.deploymentStatus, pathParams: { deployment_id: id }, body: { status: 'aborted' }, expect: [204], context: { deploymentId: id, ...context } });
  }

  /**
   * DELETE .../deployments/devices/{id}. mender-server aborts the device's oldest active device
   * deployment and at most one newer deployment listing it (whose statistics it leaves as
   * they were); call it again for each further one.
   */
  async abortDeviceDeployments(deviceId: string, context?: MenderErrorContext): Promise<void> {
    await this.#t.send({ method: 'DELETE', path: P.deviceDeployments, pathParams: { id: deviceId }, expect: [204], context: { deviceId, ...context } });
  }

  /**
   * The device's deployment history (GET .../deployments/devices/{id}; the server allows at most
   * 20 per page). `maxItems` stops early.
   */
  async getDeviceDeploymentHistory(deviceId: string, options: { status?: DeploymentDeviceStatusFilter; maxItems?: number } = {}): Promise<DeviceDeployment[]> {
    const out: DeviceDeployment[] = [];
    const it = this.pagedGet<DeviceDeployment>(
      { method: 'GET', path: P.deviceDeployments, pathParams: { id: deviceId }, query: { status: options.status }, context: { deviceId } },
      schemas().DeviceDeploymentList,
      20,
    );
    for await (const d of it) {
      out.push(d);
      if (options.maxItems !== undefined && out.length >= options.maxItems) break;
    }
    return out;
  }

  // ---------------------------------------------------------------- inventory

  /** POST /api/management/v2/inventory/filters/search, every page (a search is safe to repeat). */
  iterateDevices(search: DeviceSearch = {}): AsyncGenerator<DeviceInventory, void, undefined> {
    const t = this.#t;
    const perPage = Math.min(500, Math.max(1, search.per_page ?? this.#perPage));
    return paginate<DeviceInventory>(async (page, per_page) => {
      const body: Record<string, unknown> = { page, per_page };
      if (search.filters) body.filters = search.filters;
      if (search.attributes) body.attributes = search.attributes;
      if (search.sort) body.sort = search.sort;
      if (search.device_ids) body.device_ids = search.device_ids;
      if (search.text !== undefined) body.text = search.text;
      const { data, res } = await t.json({ method: 'POST', path: P.inventorySearch, body, idempotent: true }, schemas().DeviceInventoryList);
      return { items: data, total: parseTotalCount(t.header(res, 'x-total-count')), link: t.header(res, 'link') };
    }, { perPage });
  }

  searchDevices(search: DeviceSearch = {}): Promise<DeviceInventory[]> {
    return collect(this.iterateDevices(search));
  }

  /** GET /api/management/v1/inventory/devices/{id}. 404 is a MenderApiError (see isNotFound). */
  async getDevice(id: string, context?: MenderErrorContext): Promise<DeviceInventory> {
    const { data } = await this.#t.json({ method: 'GET', path: P.inventoryDevice, pathParams: { id }, context: { deviceId: id, ...context } }, schemas().DeviceInventory);
    return data;
  }

  // ---------------------------------------------------------------- deviceconfig (configure add-on)

  async getDeviceConfiguration(deviceId: string, context?: MenderErrorContext): Promise<DeviceConfigurationState> {
    const { data } = await this.#t.json({ method: 'GET', path: P.deviceConfig, pathParams: { deviceId }, context: { deviceId, ...context } }, schemas().DeviceConfiguration);
    return {
      configured: data.configured ?? {},
      reported: data.reported ?? {},
      deployment_id: data.deployment_id,
      reported_ts: data.reported_ts,
      updated_ts: data.updated_ts ?? undefined,
    };
  }

  /** PUT the desired configuration (replaces the whole map). */
  async setDeviceConfiguration(deviceId: string, configuration: Record<string, string>, context?: MenderErrorContext): Promise<void> {
    await this.#t.send({ method: 'PUT', path: P.deviceConfig, pathParams: { deviceId }, body: configuration, expect: [204], context: { deviceId, ...context } });
  }

  /** POST .../deploy: starts a configuration deployment. Not retried. */
  async deployDeviceConfiguration(deviceId: string, options: { retries?: number } = {}, context?: MenderErrorContext): Promise<{ deployment_id: string }> {
    const body: Record<string, unknown> = {};
    if (options.retries !== undefined) body.retries = options.retries;
    const { data } = await this.#t.json({ method: 'POST', path: P.deviceConfigDeploy, pathParams: { deviceId }, body, expect: [200], context: { deviceId, ...context } }, schemas().NewConfigurationDeploymentResponse);
    return data;
  }
}

/** Creates a Mender management API client. Cheap; call it inside provider methods. */
export function createMenderClient(options: MenderClientOptions): MenderClient {
  return new MenderClient(options);
}
