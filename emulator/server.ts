// The fastify application: Mender's request id header and error bodies, the Date header from
// the simulated clock, fault injection and the request log around every Mender route, then
// authentication and the routes themselves.
import fastify, { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { Auth } from './auth';
import type { EmulatorContext } from './context';
import { errorBody, MenderError, notFound } from './errors';
import { newId } from './ids';
import { registerAdminRoutes } from './admin';
import { registerUseradmRoutes } from './routes/useradm';
import { registerInventoryRoutes } from './routes/inventory';
import { registerDeploymentRoutes } from './routes/deployments';
import { registerArtifactRoutes } from './routes/artifacts';
import { registerDeviceconfigRoutes } from './routes/deviceconfig';
import { registerDeviceRoutes } from './routes/devices';
import { registerDevauthRoutes } from './routes/devauth';
import { parseJsonBody } from './json-body';

declare module 'fastify' {
  interface FastifyRequest {
    deviceId?: string;
  }
}

const ADMIN_PREFIX = '/__emulator/';
const LOGIN_PATH = '/api/management/v1/useradm/auth/login';
/** Device API paths that need no device token (the token is obtained or signed otherwise). */
const DEVICE_OPEN = [/^\/api\/devices\/v1\/authentication\/auth_requests$/, /^\/api\/devices\/v1\/deployments\/download\//];

export const MAX_ARTIFACT_BYTES = 1024 * 1024 * 1024;

function urlPath(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** The deployments service's request_size_limit (config/config.go: SettingMaxRequestSizeDefault). */
export const MAX_REQUEST_BYTES = 1024 * 1024;

/**
 * The deployments service's requestsize.Middleware (api/http/routing.go) covers its management
 * API, except the artifact upload and generate routes, which have their own limits.
 */
function hasRequestSizeLimit(method: string, path: string): boolean {
  if (!/^\/api\/management\/v[12]\/deployments\//.test(path)) return false;
  return !(method === 'POST' && /^\/api\/management\/v1\/deployments\/artifacts(\/generate)?$/.test(path));
}

export function sendError(reply: FastifyReply, err: MenderError, requestId: string): FastifyReply {
  return reply.code(err.status).type('application/json').send(errorBody(err, requestId));
}

function toMenderError(err: FastifyError | Error): MenderError {
  if (err instanceof MenderError) return err;
  const fe = err as FastifyError;
  if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || fe instanceof SyntaxError) {
    return new MenderError(400, `malformed request body: ${fe.message}`);
  }
  if (fe.code === 'FST_REQ_FILE_TOO_LARGE' || fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new MenderError(413, 'Artifact file too large');
  }
  if (fe.validation) return new MenderError(400, fe.message);
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new MenderError(fe.statusCode === 415 ? 400 : fe.statusCode, fe.message);
  }
  return new MenderError(500, 'internal error');
}

export async function buildServer(ctx: EmulatorContext, opts: { log?: boolean } = {}): Promise<FastifyInstance> {
  const app = fastify({
    logger: opts.log ?? false,
    // Mender propagates a caller's X-MEN-RequestID and makes one up otherwise.
    requestIdHeader: 'x-men-requestid',
    genReqId: () => newId(),
    bodyLimit: 64 * 1024 * 1024,
    forceCloseConnections: true,
  });
  const auth = new Auth(ctx.store, ctx.devauth);

  // Mender's services parse JSON whatever the Content-Type says (gin's ShouldBindJSON).
  app.addContentTypeParser('*', { parseAs: 'string' }, parseJsonBody);
  await app.register(multipart, { limits: { fileSize: MAX_ARTIFACT_BYTES, files: 1 } });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('X-MEN-RequestID', req.id);
    // The Date header is the simulated clock's, as a real server's is its own clock's (Node's
    // would be real time): a client may take it as Mender's time. Set again when sent.
    reply.raw.sendDate = false;
    reply.header('Date', ctx.clock.httpDate());
    const path = urlPath(req.url);
    if (path.startsWith(ADMIN_PREFIX)) return;
    const fault = ctx.faults.take(req.method, path);
    if (fault) {
      if (fault.delay_ms) await new Promise((r) => setTimeout(r, fault.delay_ms));
      if (fault.reset) {
        req.raw.socket.destroy();
        return reply;
      }
      if (fault.status !== undefined) {
        // Read the body first, as a server in front of Mender does: an answer sent while the
        // client still writes a large upload reaches it as a reset, not as this status.
        if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) {
          await new Promise<void>((resolve) => {
            req.raw.on('end', resolve).on('error', () => resolve());
            req.raw.resume();
          });
        }
        if (fault.retry_after !== undefined) reply.header('Retry-After', String(fault.retry_after));
        const message = fault.status === 429 ? 'too many requests' : 'injected fault';
        return sendError(reply, new MenderError(fault.status, message), req.id);
      }
    }
    if (path.startsWith('/api/management/') && path !== LOGIN_PATH) {
      auth.management(req.headers.authorization);
      if (hasRequestSizeLimit(req.method, path) && Number(req.headers['content-length'] ?? 0) > MAX_REQUEST_BYTES) {
        return sendError(reply, new MenderError(413, 'http: request body too large'), req.id);
      }
    } else if (path.startsWith('/api/devices/') && !DEVICE_OPEN.some((re) => re.test(path))) {
      req.deviceId = auth.device(req.headers.authorization);
    }
  });

  app.addHook('onSend', async (req, reply, payload) => {
    // A mutation is acknowledged only once it is on disk.
    if (req.method !== 'GET' && reply.statusCode < 400 && !urlPath(req.url).startsWith(ADMIN_PREFIX + 'requests')) {
      await ctx.persist();
    }
    // When the answer leaves: after POST /__emulator/time it is the advanced time.
    reply.header('Date', ctx.clock.httpDate());
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    const path = urlPath(req.url);
    if (path.startsWith(ADMIN_PREFIX)) return;
    const q = req.url.indexOf('?');
    ctx.requestLog.add({
      method: req.method,
      path,
      query: q < 0 ? '' : req.url.slice(q + 1),
      status: reply.statusCode,
      // Wall-clock time, not the simulated clock: tests measure real delays with it (Retry-After).
      time: new Date().toISOString(),
    });
  });

  app.setErrorHandler((err: FastifyError, req: FastifyRequest, reply: FastifyReply) => {
    const me = toMenderError(err);
    if (me.status >= 500) req.log.error(err);
    return sendError(reply, me, req.id);
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, notFound('Not found'), req.id));

  registerUseradmRoutes(app, ctx, auth);
  registerInventoryRoutes(app, ctx);
  registerDeploymentRoutes(app, ctx);
  registerArtifactRoutes(app, ctx);
  registerDeviceconfigRoutes(app, ctx);
  registerDeviceRoutes(app, ctx);
  registerDevauthRoutes(app, ctx, auth);
  registerAdminRoutes(app, ctx);
  return app;
}
