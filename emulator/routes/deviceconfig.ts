// deviceconfig, management side: the configured key/values of a device, what the device
// reported, and deploying the configuration (which creates a configuration deployment).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { EmulatorContext } from '../context';
import { notFound } from '../errors';
import { DeviceConfigRecord } from '../types';
import { parseBody } from '../validate';
import { configView } from '../views';

const BASE = '/api/management/v1/deviceconfig/configurations/device';

const configurationSchema = z.record(z.string().min(1).max(4096), z.string().max(4096));
const deploySchema = z.object({
  retries: z.number().int().nonnegative().optional(),
  update_control_map: z.record(z.string(), z.unknown()).optional(),
});

export function registerDeviceconfigRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  const { store } = ctx;
  /** A device deviceconfig knows: one accepted in the fleet, or one given a configuration. */
  const known = (id: string): DeviceConfigRecord => {
    const c = store.configs.get(id);
    if (c) return c;
    if (store.devices.has(id)) return { id, configured: {}, reported: {} };
    throw notFound('device does not exist');
  };

  app.put(`${BASE}/:id`, async (req, reply) => {
    const { id } = req.params as { id: string };
    const configured = parseBody(configurationSchema, req.body, 'malformed request body');
    const existing = store.configs.get(id) ?? { id, configured: {}, reported: {} };
    existing.configured = configured;
    existing.updatedTs = ctx.clock.iso();
    store.configs.set(id, existing);
    return reply.code(204).send();
  });

  app.get(`${BASE}/:id`, async (req) => configView(known((req.params as { id: string }).id)));

  app.post(`${BASE}/:id/deploy`, async (req) => {
    const { id } = req.params as { id: string };
    const config = known(id);
    parseBody(deploySchema, req.body, 'malformed request body');
    const deploymentId = ctx.deployments.createConfiguration(id, config.configured);
    config.deploymentId = deploymentId;
    store.configs.set(id, config);
    return { deployment_id: deploymentId };
  });
}
