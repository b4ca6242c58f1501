// deviceconfig, management side: the configured key/values of a device, what the device
// reported, and deploying the configuration (through the workflows service, later).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { EmulatorContext } from '../context';
import { parseBody } from '../validate';
import { configView } from '../views';

const BASE = '/api/management/v1/deviceconfig/configurations/device';

const configurationSchema = z.record(z.string().min(1).max(4096), z.string().max(4096));
const deploySchema = z.object({
  retries: z.number().int().nonnegative().optional(),
  update_control_map: z.record(z.string(), z.unknown()).optional(),
});

export function registerDeviceconfigRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  const { deviceconfig } = ctx;

  app.put(`${BASE}/:id`, async (req, reply) => {
    const { id } = req.params as { id: string };
    deviceconfig.setConfigured(id, parseBody(configurationSchema, req.body, 'malformed request body'));
    return reply.code(204).send();
  });

  app.get(`${BASE}/:id`, async (req) => configView(deviceconfig.get((req.params as { id: string }).id)));

  app.post(`${BASE}/:id/deploy`, async (req) => {
    const { id } = req.params as { id: string };
    deviceconfig.get(id);
    parseBody(deploySchema, req.body, 'malformed request body');
    return { deployment_id: deviceconfig.deploy(id) };
  });
}
