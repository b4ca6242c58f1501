// deviceauth's HTTP API (backend/services/deviceauth/api/http/api_devauth.go): the device's auth
// request, and the management API v2 to list, preauthorize, accept, reject, dismiss and
// decommission.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Auth } from '../auth';
import type { EmulatorContext } from '../context';
import { DeviceExists, parsePubKey, serializePubKey, verifyAuthRequestSignature } from '../devauth';
import { badRequest, MenderError, unauthorized } from '../errors';
import { first, linkHeader, Page, slicePage } from '../paging';
import type { AuthSetStatus } from '../types';
import { parseBody } from '../validate';

const V2 = '/api/management/v2/devauth';
const STATUSES = ['pending', 'accepted', 'rejected', 'preauthorized', 'noauth'] as const;
const FILTER_STATUS_ERROR = 'filter status must be one of: accepted, pending, rejected, preauthorized or noauth';

/** model/authreq.go AuthReq; Validate requires id_data and pubkey. */
const authRequestSchema = z.object({
  id_data: z.string().min(1, 'id_data must be provided'),
  pubkey: z.string().min(1, 'pubkey must be provided'),
  tenant_token: z.string().optional(),
});
/** api/http/model_pre_auth_req.go preAuthReq: identity_data and pubkey required. */
const preAuthSchema = z.object({
  identity_data: z.record(z.string(), z.unknown()).refine((v) => Object.keys(v).length > 0, 'cannot be blank'),
  pubkey: z.string().min(1, 'cannot be blank'),
  force: z.boolean().optional(),
});
/** DevAuthApiStatus with statusValidate: accepted, rejected or pending. */
const statusSchema = z.object({ status: z.string() });

/** rest.ParsePagingParameters (backend/pkg/rest.utils/paging.go): 400 above 500 per page. */
function parsePaging(query: Record<string, unknown>): Page {
  const parse = (raw: unknown, name: string, fallback: number): number => {
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n)) throw badRequest(`invalid ${name} query: "${String(raw)}"`);
    if (n < 1) throw badRequest(`invalid ${name} query: value must be a non-zero positive integer`);
    return n;
  };
  const page = parse(first(query.page), 'page', 1);
  const perPage = parse(first(query.per_page), 'per_page', 20);
  if (perPage > 500) throw badRequest('parameter "per_page" above limit (max: 500)');
  return { page, perPage };
}

const list = (v: unknown): string[] => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String));

/** The raw body: the request signature is over its exact bytes. */
function rawBody(req: FastifyRequest): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}

export function registerDevauthRoutes(app: FastifyInstance, ctx: EmulatorContext, auth: Auth): void {
  const { devauth } = ctx;

  // SubmitAuthRequestHandler reads the raw body (utils.ReadBodyRaw) to check the signature, so
  // this scope keeps the body as bytes whatever its Content-Type.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

    scope.post('/api/devices/v1/authentication/auth_requests', async (req, reply) => {
      const body = rawBody(req);
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch (err) {
        throw badRequest(`failed to decode auth request: ${(err as Error).message}`);
      }
      const request = parseBody(authRequestSchema, json, 'invalid auth request');
      const key = parsePubKey(request.pubkey);
      const signature = req.headers['x-men-signature'];
      if (typeof signature !== 'string' || signature === '') throw badRequest('missing request signature header');
      if (!verifyAuthRequestSignature(signature, key, body)) throw unauthorized('signature verification failed');
      const { deviceId, authSetId } = devauth.submitAuthRequest(request.id_data, serializePubKey(key));
      return reply.code(200).type('application/jwt').send(auth.deviceToken(deviceId, authSetId));
    });
  });

  const devicesPage = (path: string, query: Record<string, unknown>, filter: { status: string[]; ids: string[] }, reply: { header(k: string, v: string): unknown }) => {
    const paging = parsePaging(query);
    if (filter.status.some((s) => !(STATUSES as readonly string[]).includes(s))) throw badRequest(FILTER_STATUS_ERROR);
    const all = devauth.list(filter);
    reply.header('Link', linkHeader(path, query, paging, all.length));
    return slicePage(all, paging).map((d) => devauth.view(d));
  };

  // GetDevicesV2Handler: the query's status and id, as a form (DeviceFilter.ParseForm).
  app.get(`${V2}/devices`, async (req, reply) => {
    const query = req.query as Record<string, unknown>;
    return devicesPage(`${V2}/devices`, query, { status: list(query.status), ids: list(query.id) }, reply);
  });

  // SearchDevicesV2Handler: a JSON filter whose status and id are a string or strings.
  app.post(`${V2}/devices/search`, async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const strings = (v: unknown, name: string): string[] => {
      if (v === undefined || v === null) return [];
      if (typeof v === 'string') return [v];
      if (Array.isArray(v) && v.every((e) => typeof e === 'string')) return v as string[];
      throw badRequest(`api: malformed request body: invalid JSON type for '${name}': must be string or []string`);
    };
    const query = req.query as Record<string, unknown>;
    return devicesPage(`${V2}/devices/search`, query, { status: strings(body.status, 'status'), ids: strings(body.id, 'id') }, reply);
  });

  app.get(`${V2}/devices/count`, async (req) => {
    const status = first((req.query as Record<string, unknown>).status);
    if (status !== undefined && status !== '' && !(STATUSES as readonly unknown[]).includes(status)) {
      throw badRequest('status must be one of: pending, accepted, rejected, preauthorized, noauth');
    }
    return { count: devauth.count(typeof status === 'string' && status ? status : undefined) };
  });

  // PostDevicesV2Handler: 201 with Location "devices/<id>", or 409 with the device itself.
  app.post(`${V2}/devices`, async (req, reply) => {
    const body = parseBody(preAuthSchema, req.body, 'failed to decode preauth request');
    const key = parsePubKey(body.pubkey);
    try {
      // With force on a known identity, mender-server's Location names the fresh id it made for
      // the request (getDbModel), not the device the set was added to; the emulator names the
      // device.
      const id = devauth.preauthorize(body.identity_data, serializePubKey(key), body.force ?? false);
      return reply.code(201).header('Location', `devices/${id}`).send();
    } catch (err) {
      if (err instanceof DeviceExists) return reply.code(409).send(err.device);
      throw err;
    }
  });

  app.get(`${V2}/devices/:id`, async (req) => devauth.view(devauth.get((req.params as { id: string }).id)));

  // DecommissionDeviceHandler answers an unknown device with a bare 404 (c.Status, no body).
  app.delete(`${V2}/devices/:id`, async (req, reply) => {
    const id = (req.params as { id: string }).id;
    if (!ctx.store.devices.has(id)) return reply.code(404).send();
    devauth.decommission(id);
    return reply.code(204).send();
  });

  // DeleteDeviceAuthSetHandler: ErrAuthSetNotFound is a bare 404 (c.Status).
  app.delete(`${V2}/devices/:id/auth/:aid`, async (req, reply) => {
    const { id, aid } = req.params as { id: string; aid: string };
    if (!devauth.deleteAuthSet(id, aid)) return reply.code(404).send();
    return reply.code(204).send();
  });

  app.get(`${V2}/devices/:id/auth/:aid/status`, async (req) => {
    const { aid } = req.params as { id: string; aid: string };
    const set = ctx.store.authSets.get(aid);
    if (!set) throw new MenderError(404, 'authorization set not found');
    return { status: set.status };
  });

  app.put(`${V2}/devices/:id/auth/:aid/status`, async (req, reply) => {
    const { id, aid } = req.params as { id: string; aid: string };
    const { status } = parseBody(statusSchema, req.body, 'failed to decode status data');
    if (status !== 'accepted' && status !== 'rejected' && status !== 'pending') throw badRequest('incorrect device status');
    devauth.setAuthSetStatus(id, aid, status satisfies AuthSetStatus);
    return reply.code(204).send();
  });
}
