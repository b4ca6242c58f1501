// deployments service, management side: create (devices, all devices, group), list v1/v2,
// details, statistics, device lists, abort, per-device abort and history.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { EmulatorContext } from '../context';
import { badRequest, notFound } from '../errors';
import { isUuid } from '../ids';
import { first, linkHeader, Page, parsePage, slicePage } from '../paging';
import { DEVICE_DEPLOYMENT_STATUSES, DeploymentStatus, DeviceDeploymentRecord, FINISHED_STATUSES } from '../types';
import { parseBody } from '../validate';
import { deploymentView, deviceWithImageView } from '../views';

const V1 = '/api/management/v1/deployments/deployments';
const V2 = '/api/management/v2/deployments/deployments';

const newDeploymentSchema = z.object({
  name: z.string(),
  artifact_name: z.string(),
  devices: z.array(z.string()).optional(),
  all_devices: z.boolean().optional(),
  force_installation: z.boolean().optional(),
});
const newGroupDeploymentSchema = z.object({
  name: z.string(),
  artifact_name: z.string(),
  force_installation: z.boolean().optional(),
});
const abortSchema = z.object({ status: z.string() });
const statsListSchema = z.object({ deployment_ids: z.array(z.string()).min(1) });

const DEPLOYMENT_STATUSES = new Set(['pending', 'inprogress', 'finished']);

function timestamp(raw: unknown, name: string): number | undefined {
  const v = first(raw);
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw badRequest(`invalid ${name}: ${String(v)}`);
  return n;
}

/** Mender's numeric order of device deployment statuses (model/device_deployment.go), used to sort. */
const STATUS_ORDER = new Map<string, number>(DEVICE_DEPLOYMENT_STATUSES.map((s, i) => [s, i]));
const byStatusThenDevice = (a: DeviceDeploymentRecord, b: DeviceDeploymentRecord): number =>
  STATUS_ORDER.get(a.status)! - STATUS_ORDER.get(b.status)! || a.deviceId.localeCompare(b.deviceId);

/** Device deployment status filters accepted by Mender besides the plain statuses. */
function matchesDeviceStatus(dd: DeviceDeploymentRecord, status: string | undefined): boolean {
  if (!status) return true;
  if (status === 'finished') return FINISHED_STATUSES.has(dd.status);
  if (status === 'active') return !FINISHED_STATUSES.has(dd.status);
  if (status === 'pause') return dd.status.startsWith('pause_');
  return dd.status === status;
}

function deviceStatusFilter(raw: unknown): string | undefined {
  const s = first(raw);
  if (s === undefined || s === '') return undefined;
  const allowed = [...DEVICE_DEPLOYMENT_STATUSES, 'pause', 'active', 'finished'] as string[];
  if (typeof s !== 'string' || !allowed.includes(s)) throw badRequest(`invalid status query: ${String(s)}`);
  return s;
}

export function registerDeploymentRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  const { store, deployments: svc } = ctx;

  const created = (reply: FastifyReply, id: string): FastifyReply =>
    reply.code(201).header('Location', `${V1}/${id}`).send();

  app.post(V1, async (req, reply) => {
    const body = parseBody(newDeploymentSchema, req.body, 'Validating request body');
    const id = svc.create({
      name: body.name,
      artifactName: body.artifact_name,
      devices: body.devices ?? [],
      allDevices: body.all_devices ?? false,
      forceInstallation: body.force_installation ?? false,
    });
    return created(reply, id);
  });

  app.post(`${V1}/group/:name`, async (req, reply) => {
    const { name } = req.params as { name: string };
    if (!name) throw badRequest('Missing group name');
    const body = parseBody(newGroupDeploymentSchema, req.body, 'Validating request body');
    const id = svc.create({
      name: body.name,
      artifactName: body.artifact_name,
      devices: [],
      group: name,
      allDevices: false,
      forceInstallation: body.force_installation ?? false,
    });
    return created(reply, id);
  });

  const list = (version: 1 | 2) => async (req: { query: unknown }, reply: FastifyReply) => {
    const query = req.query as Record<string, unknown>;
    const page: Page = parsePage(query, 20, 500);
    const status = first(query.status);
    if (status !== undefined && !DEPLOYMENT_STATUSES.has(String(status))) throw badRequest(`invalid status query: ${String(status)}`);
    const type = first(query.type);
    if (type !== undefined && type !== 'software' && type !== 'configuration') throw badRequest(`invalid type query: ${String(type)}`);
    const sort = first(query.sort);
    if (sort !== undefined && sort !== 'asc' && sort !== 'desc') {
      throw badRequest('invalid form value: must be one of "asc" or "desc"');
    }
    const asList = (v: unknown): string[] | undefined => (v === undefined ? undefined : (Array.isArray(v) ? v : [v]).map(String));
    const items = svc.list({
      status: status as DeploymentStatus | undefined,
      type: type as string | undefined,
      search: version === 1 ? (first(query.search) as string | undefined) : undefined,
      ids: version === 2 ? asList(query.id) : undefined,
      names: version === 2 ? asList(query.name) : undefined,
      createdBefore: timestamp(query.created_before, 'created_before'),
      createdAfter: timestamp(query.created_after, 'created_after'),
      sort: sort as 'asc' | 'desc' | undefined,
    });
    reply.header('X-Total-Count', String(items.length));
    reply.header('Link', linkHeader(version === 1 ? V1 : V2, query, page, items.length));
    return slicePage(items, page).map((d) => deploymentView(svc, store, d, version));
  };
  app.get(V1, list(1));
  app.get(V2, list(2));

  app.post(`${V1}/statistics/list`, async (req) => {
    const body = parseBody(statsListSchema, req.body);
    return body.deployment_ids.map((id) => ({ id, stats: { ...svc.get(id).stats } }));
  });

  app.get(`${V1}/:id`, async (req) => deploymentView(svc, store, svc.get((req.params as { id: string }).id), 1));

  app.put(`${V1}/:id/status`, async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!isUuid(id)) throw badRequest('ID is not a valid UUID');
    const body = parseBody(abortSchema, req.body);
    if (body.status !== 'aborted') throw badRequest('Unexpected deployment status');
    svc.abort(id);
    return reply.code(204).send();
  });

  app.get(`${V1}/:id/statistics`, async (req) => ({ ...svc.get((req.params as { id: string }).id).stats }));

  // Only the records that exist: a device that has not polled yet is in no list
  // (GetDevicesListForDeployment, store/mongo/datastore_mongo.go).
  const devicesOf = (id: string): DeviceDeploymentRecord[] => {
    svc.get(id);
    return svc.records(id).sort(byStatusThenDevice);
  };

  app.get(`${V1}/:id/devices`, async (req) =>
    devicesOf((req.params as { id: string }).id).map((dd) => deviceWithImageView(store, dd)),
  );

  app.get(`${V1}/:id/devices/list`, async (req, reply) => {
    const { id } = req.params as { id: string };
    const query = req.query as Record<string, unknown>;
    const page = parsePage(query, 20, 500);
    const status = deviceStatusFilter(query.status);
    const items = devicesOf(id).filter((dd) => matchesDeviceStatus(dd, status));
    reply.header('X-Total-Count', String(items.length));
    reply.header('Link', linkHeader(`${V1}/${id}/devices/list`, query, page, items.length));
    return slicePage(items, page).map((dd) => deviceWithImageView(store, dd));
  });

  app.get(`${V1}/:id/device_list`, async (req) => {
    const { id } = req.params as { id: string };
    if (!isUuid(id)) throw badRequest('ID is not a valid UUID');
    return svc.get(id).deviceList;
  });

  app.get(`${V1}/:id/devices/:deviceId/log`, async (req, reply) => {
    const { id, deviceId } = req.params as { id: string; deviceId: string };
    const dd = store.deploymentDevices.get(id)?.get(deviceId);
    if (!dd || dd.deleted || !dd.log || dd.log.length === 0) throw notFound('Deployment log not found');
    const text = dd.log.map((m) => `${m.timestamp} ${m.level}: ${m.message}`).join('\n') + '\n';
    return reply.type('text/plain').send(text);
  });

  app.delete(`${V1}/devices/:id`, async (req, reply) => {
    svc.abortForDevice((req.params as { id: string }).id);
    return reply.code(204).send();
  });

  app.get(`${V1}/devices/:id`, async (req, reply) => {
    const { id } = req.params as { id: string };
    const query = req.query as Record<string, unknown>;
    const page = parsePage(query, 20, 20);
    const status = deviceStatusFilter(query.status);
    // GetDeviceDeploymentsForDevice sorts by created, then status, both descending.
    const history = (store.deviceHistory.get(id) ?? [])
      .filter((dd) => !dd.deleted && matchesDeviceStatus(dd, status))
      .sort((a, b) => b.created.localeCompare(a.created) || STATUS_ORDER.get(b.status)! - STATUS_ORDER.get(a.status)!);
    reply.header('X-Total-Count', String(history.length));
    return slicePage(history, page).map((dd) => ({
      id: dd.id,
      deployment: deploymentView(svc, store, svc.get(dd.deploymentId), 1),
      device: deviceWithImageView(store, dd),
    }));
  });

  app.delete(`${V1}/devices/:id/history`, async (req, reply) => {
    svc.deleteHistory((req.params as { id: string }).id);
    return reply.code(204).send();
  });
}
