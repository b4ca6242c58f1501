// The test-only admin API under /__emulator/ (not a Mender path): request log, fault
// injection, device behaviour and inventory changes, the simulated clock (read, advance), state dump, and the
// artifact download that deployment instructions point devices at.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { EmulatorContext } from './context';
import { notFound } from './errors';
import { faultSchema } from './faults';
import { parseBody } from './validate';
import { behaviorSchema } from './world';

const PREFIX = '/__emulator';

const inventorySchema = z.record(
  z.string().min(1),
  z.union([z.string(), z.number(), z.boolean(), z.array(z.string()), z.array(z.number()), z.null()]),
);
const timeSchema = z.object({ advance_ms: z.number().nonnegative() }).strict();

export function registerAdminRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  const { store } = ctx;
  const device = (id: string) => {
    const d = store.devices.get(id);
    if (!d) throw notFound(`no device ${id}`);
    return d;
  };

  app.get(`${PREFIX}/requests`, async () => ctx.requestLog.list());
  app.delete(`${PREFIX}/requests`, async (_req, reply) => {
    ctx.requestLog.clear();
    return reply.code(204).send();
  });

  app.get(`${PREFIX}/faults`, async () => ctx.faults.list());
  app.post(`${PREFIX}/faults`, async (req, reply) => {
    const spec = parseBody(faultSchema, req.body, 'invalid fault');
    return reply.code(201).send(ctx.faults.add(spec));
  });
  app.delete(`${PREFIX}/faults`, async (_req, reply) => {
    ctx.faults.clear();
    return reply.code(204).send();
  });

  app.post(`${PREFIX}/devices/:id/behavior`, async (req) => {
    const d = device((req.params as { id: string }).id);
    d.behavior = parseBody(behaviorSchema, req.body ?? {}, 'invalid behavior');
    // A device that came back online resumes its pending deployments.
    ctx.simulation.wake([d.id]);
    return { id: d.id, behavior: d.behavior };
  });

  app.post(`${PREFIX}/devices/:id/inventory`, async (req) => {
    const d = device((req.params as { id: string }).id);
    const attrs = parseBody(inventorySchema, req.body, 'invalid inventory');
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null) delete d.inventory[k];
      else d.inventory[k] = v;
    }
    d.updatedTs = ctx.clock.iso();
    return { id: d.id, inventory: d.inventory };
  });

  // The simulated clock (what every response's Date header and every timestamp comes from).
  const time = () => {
    const ms = ctx.clock.now();
    return { now: new Date(ms).toISOString(), now_ms: ms, speed: ctx.timing.speed };
  };
  app.get(`${PREFIX}/time`, async () => time());
  app.post(`${PREFIX}/time`, async (req) => {
    const { advance_ms } = parseBody(timeSchema, req.body, 'invalid time');
    ctx.clock.advance(advance_ms);
    // Every poll and step now due runs before the answer, in the order it fell due.
    ctx.simulation.run();
    return time();
  });

  app.get(`${PREFIX}/state`, async () => ({
    now: ctx.clock.iso(),
    timing: ctx.timing,
    active_devices: ctx.simulation.activeCount(),
    ...store.snapshot(),
    jwtSecret: undefined,
  }));

  app.get(`${PREFIX}/artifacts/:id/download`, async (req, reply) => {
    const { id } = req.params as { id: string };
    const file = store.artifactFiles.get(id);
    if (!file) throw notFound('artifact file not found (world artifacts have no file)');
    return reply.type('application/vnd.mender-artifact').send(file);
  });
}
