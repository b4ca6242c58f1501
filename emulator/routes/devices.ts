// The device side of Mender, so a real Mender client can drive the emulator (authentication is
// in devauth.ts): `deployments/next`, status and log reports, inventory updates and configuration reports.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { ARTIFACT_CONTENT_TYPE, configurationArtifact } from '../configure-artifact';
import type { EmulatorContext } from '../context';
import { badRequest, notFound, unauthorized } from '../errors';
import { first } from '../paging';
import { DeviceRecord } from '../types';
import { parseBody } from '../validate';

/** model/device_deployment.go InstalledDeviceDeployment; Validate: both names 1–4096 long. */
const installedSchema = z.object({
  artifact_name: z.string().min(1, 'artifact_name: cannot be blank.').max(4096),
  device_type: z.string().min(1, 'device_type: cannot be blank.').max(4096),
  artifact_provides: z.record(z.string(), z.string()).optional(),
});
const statusSchema = z.object({
  status: z.enum([
    'installing',
    'pause_before_installing',
    'downloading',
    'pause_before_rebooting',
    'rebooting',
    'pause_before_committing',
    'success',
    'failure',
    'already-installed',
  ]),
  substate: z.string().optional(),
});
const logSchema = z.object({
  messages: z.array(z.object({ timestamp: z.string(), level: z.string(), message: z.string() })),
});
const attributesSchema = z.array(
  z.object({
    name: z.string().min(1),
    value: z.union([z.string(), z.number(), z.array(z.string()), z.array(z.number())]),
    description: z.string().optional(),
  }),
);
const reportedSchema = z.record(z.string(), z.string());

export function registerDeviceRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  const { store, deployments: svc } = ctx;
  const self = (deviceId: string | undefined): DeviceRecord => {
    const d = deviceId ? store.devices.get(deviceId) : undefined;
    if (!d) throw unauthorized();
    return d;
  };

  const next = (deviceId: string | undefined, artifactName: unknown, deviceType: unknown, reply: FastifyReply) => {
    const d = self(deviceId);
    if (typeof artifactName !== 'string' || !artifactName) throw badRequest('missing parameter: artifact_name');
    if (typeof deviceType !== 'string' || !deviceType) throw badRequest('missing parameter: device_type');
    const instructions = svc.next(d.id, artifactName, deviceType);
    if (!instructions) return reply.code(204).send();
    return instructions;
  };
  app.get('/api/devices/v1/deployments/device/deployments/next', async (req, reply) => {
    const query = req.query as Record<string, unknown>;
    return next(req.deviceId, first(query.artifact_name), first(query.device_type), reply);
  });
  // GetDeploymentForDevice (deployments api/http/api_deployments.go) takes a POST too, its body
  // an InstalledDeviceDeployment (artifact_name, device_type, artifact_provides); the mender
  // client 3.4 asks v2 (404 on mender-server too), then POSTs here before it falls back to GET.
  app.post('/api/devices/v1/deployments/device/deployments/next', async (req, reply) => {
    const body = parseBody(installedSchema, req.body ?? {}, 'invalid schema');
    return next(req.deviceId, body.artifact_name, body.device_type, reply);
  });

  app.put('/api/devices/v1/deployments/device/deployments/:id/status', async (req, reply) => {
    const d = self(req.deviceId);
    const body = parseBody(statusSchema, req.body);
    svc.report(d.id, (req.params as { id: string }).id, body.status, body.substate);
    return reply.code(204).send();
  });

  app.put('/api/devices/v1/deployments/device/deployments/:id/log', async (req, reply) => {
    const d = self(req.deviceId);
    const body = parseBody(logSchema, req.body);
    svc.putLog(d.id, (req.params as { id: string }).id, body.messages);
    return reply.code(204).send();
  });

  app.get('/api/devices/v1/deployments/download/configuration/:deploymentId/:deviceType/:deviceId', async (req, reply) => {
    const { deploymentId, deviceType, deviceId } = req.params as { deploymentId: string; deviceType: string; deviceId: string };
    const dep = store.deployments.get(deploymentId);
    if (!dep || dep.type !== 'configuration' || !svc.records(deploymentId).some((dd) => dd.deviceId === deviceId)) {
      throw notFound(`deployment with id '${deploymentId}' not found`);
    }
    // DownloadConfiguration (deployments api/http/api_deployments.go) serves the artifact
    // GenerateConfigurationImage writes for the device type in the link.
    const artifact = await configurationArtifact(dep.artifactName, deviceType, JSON.parse(dep.configuration ?? '{}') as Record<string, unknown>);
    return reply.code(200).type(ARTIFACT_CONTENT_TYPE).header('Content-Disposition', 'attachment; filename="artifact.mender"').send(artifact);
  });

  const setAttributes = (replace: boolean) => async (req: { deviceId?: string; body: unknown }, reply: { code(n: number): { send(): unknown } }) => {
    const d = self(req.deviceId);
    const attrs = parseBody(attributesSchema, req.body);
    if (replace) d.inventory = {};
    for (const a of attrs) d.inventory[a.name] = a.value;
    d.updatedTs = ctx.clock.iso();
    return reply.code(200).send();
  };
  app.put('/api/devices/v1/inventory/device/attributes', setAttributes(true));
  app.patch('/api/devices/v1/inventory/device/attributes', setAttributes(false));

  app.get('/api/devices/v1/deviceconfig/configuration', async (req) => {
    const d = self(req.deviceId);
    return store.configs.get(d.id)?.configured ?? {};
  });

  app.put('/api/devices/v1/deviceconfig/configuration', async (req, reply) => {
    const d = self(req.deviceId);
    ctx.deviceconfig.report(d.id, parseBody(reportedSchema, req.body));
    return reply.code(204).send();
  });
}
