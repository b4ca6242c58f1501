// inventory: device listing and search (v1 list, v2 filters/search), groups, tags.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { EmulatorContext } from '../context';
import { badRequest, notFound } from '../errors';
import {
  deviceView,
  Filter,
  getAttribute,
  isScope,
  searchDevices,
  SortCriterion,
  sortDevices,
} from '../inventory';
import { first, linkHeader, parsePage, slicePage } from '../paging';
import { parseBody } from '../validate';
import type { DeviceRecord, Scope } from '../types';

const V1 = '/api/management/v1/inventory';
const V2 = '/api/management/v2/inventory';

const scope = z.enum(['identity', 'inventory', 'system', 'tags', 'monitor']);
const attrValue = z.union([z.string(), z.number(), z.array(z.string()), z.array(z.number()), z.boolean()]);
const searchSchema = z.object({
  page: z.number().int().positive().optional(),
  per_page: z.number().int().positive().max(500).optional(),
  device_ids: z.array(z.string()).optional(),
  text: z.string().optional(),
  filters: z
    .array(z.object({ scope, attribute: z.string().min(1), type: z.string().min(1), value: attrValue.optional() }))
    .optional(),
  sort: z.array(z.object({ scope, attribute: z.string().min(1), order: z.enum(['asc', 'desc']) })).optional(),
  attributes: z.array(z.object({ scope, attribute: z.string().min(1) })).optional(),
});

// A device's group name, as Mender's inventory validates it.
const groupName = z.string().regex(/^[A-Za-z0-9_-]+$/, 'Group name can only contain: upper/lowercase alphanum, -(dash), _(underscore)');
const groupSchema = z.object({ group: groupName });
const tagsSchema = z.array(z.object({ name: z.string().min(1), value: z.string(), description: z.string().optional() }));
const idsSchema = z.array(z.string());

const RESERVED_V1 = new Set(['page', 'per_page', 'sort', 'has_group', 'group']);

export function registerInventoryRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  const { store } = ctx;
  const device = (id: string): DeviceRecord => {
    const d = store.devices.get(id);
    if (!d) throw notFound('Device not found');
    return d;
  };
  const touch = (d: DeviceRecord): void => {
    d.updatedTs = ctx.clock.iso();
  };

  app.get(`${V1}/devices`, async (req, reply) => {
    const query = req.query as Record<string, unknown>;
    const page = parsePage(query, 10, 500);
    const filters: Filter[] = [];
    for (const [key, raw] of Object.entries(query)) {
      if (RESERVED_V1.has(key)) continue;
      const slash = key.indexOf('/');
      const s = slash < 0 ? 'inventory' : key.slice(0, slash);
      const name = slash < 0 ? key : key.slice(slash + 1);
      if (!isScope(s)) return reply.code(200).header('X-Total-Count', '0').send([]);
      filters.push({ scope: s, attribute: name, type: '$eq', value: String(first(raw)) });
    }
    // v1 search compares values as strings, whatever their stored type.
    let matched = [...store.devices.values()].filter((d) =>
      filters.every((f) => {
        const actual = getAttribute(d, f.scope, f.attribute);
        if (actual === undefined) return false;
        return (Array.isArray(actual) ? actual : [actual]).some((x) => String(x) === f.value);
      }),
    );
    const hasGroup = first(query.has_group);
    if (hasGroup !== undefined) {
      if (hasGroup !== 'true' && hasGroup !== 'false') throw badRequest('has_group must be a boolean');
      matched = matched.filter((d) => (d.group !== undefined) === (hasGroup === 'true'));
    }
    const group = first(query.group);
    if (typeof group === 'string') matched = matched.filter((d) => d.group === group);
    const sort = first(query.sort);
    if (typeof sort === 'string' && sort !== '') {
      const criteria: SortCriterion[] = sort.split(',').map((part) => {
        const [attribute, order = 'desc'] = part.split(':');
        if (order !== 'asc' && order !== 'desc') throw badRequest('invalid sort order');
        return { scope: 'inventory' as Scope, attribute, order };
      });
      matched = sortDevices(matched, criteria);
    }
    reply.header('X-Total-Count', String(matched.length));
    reply.header('Link', linkHeader(`${V1}/devices`, query, page, matched.length));
    return slicePage(matched, page).map((d) => deviceView(d));
  });

  app.get(`${V1}/devices/:id`, async (req) => deviceView(device((req.params as { id: string }).id)));

  app.delete(`${V1}/devices/:id`, async (req, reply) => {
    store.devices.delete((req.params as { id: string }).id);
    return reply.code(204).send();
  });

  app.post(`${V2}/filters/search`, async (req, reply) => {
    const body = parseBody(searchSchema, req.body ?? {}, 'failed to parse request body');
    const page = { page: body.page ?? 1, perPage: body.per_page ?? 20 };
    const filters: Filter[] = (body.filters ?? []).map((f) => {
      if (f.value === undefined) throw badRequest(`filter on ${f.attribute}: value is required`);
      return { scope: f.scope as Scope, attribute: f.attribute, type: f.type, value: f.value };
    });
    let candidates: Iterable<DeviceRecord> = store.devices.values();
    if (body.device_ids && body.device_ids.length > 0) {
      candidates = body.device_ids.map((id) => store.devices.get(id)).filter((d): d is DeviceRecord => d !== undefined);
    }
    let matched = searchDevices(candidates, filters);
    if (body.text) {
      const text = body.text.toLowerCase();
      matched = matched.filter((d) =>
        [d.id, ...Object.values(d.inventory), ...Object.values(d.identity)].some((v) => String(v).toLowerCase().includes(text)),
      );
    }
    matched = sortDevices(
      matched,
      (body.sort ?? []).map((s) => ({ scope: s.scope as Scope, attribute: s.attribute, order: s.order })),
    );
    const select = (body.attributes ?? []).map((a) => ({ scope: a.scope as Scope, attribute: a.attribute }));
    // FiltersSearchHandler (inventory api/http/api_inventory.go) sends X-Total-Count and no Link.
    reply.header('X-Total-Count', String(matched.length));
    return slicePage(matched, page).map((d) => deviceView(d, select));
  });

  app.get(`${V2}/filters/attributes`, async () => {
    const counts = new Map<string, { name: string; scope: Scope; count: number }>();
    let n = 0;
    for (const d of store.devices.values()) {
      if (n++ >= 5000) break;
      for (const v of [deviceView(d)]) {
        for (const a of v.attributes) {
          const key = `${a.scope}/${a.name}`;
          const c = counts.get(key) ?? { name: a.name, scope: a.scope, count: 0 };
          c.count++;
          counts.set(key, c);
        }
      }
    }
    return [...counts.values()]
      .sort((a, b) => b.count - a.count || a.scope.localeCompare(b.scope) || a.name.localeCompare(b.name))
      .slice(0, 500);
  });

  app.get(`${V1}/devices/:id/group`, async (req) => {
    const d = device((req.params as { id: string }).id);
    return { group: d.group ?? null };
  });

  app.put(`${V1}/devices/:id/group`, async (req, reply) => {
    const body = parseBody(groupSchema, req.body);
    const d = device((req.params as { id: string }).id);
    d.group = body.group;
    touch(d);
    return reply.code(204).send();
  });

  app.delete(`${V1}/devices/:id/group/:name`, async (req, reply) => {
    const { id, name } = req.params as { id: string; name: string };
    const d = store.devices.get(id);
    if (!d || d.group !== name) throw notFound('Device not found');
    d.group = undefined;
    touch(d);
    return reply.code(204).send();
  });

  app.get(`${V1}/groups`, async () => {
    const groups = new Set<string>();
    for (const d of store.devices.values()) if (d.group !== undefined) groups.add(d.group);
    return [...groups].sort();
  });

  app.get(`${V1}/groups/:name/devices`, async (req, reply) => {
    const query = req.query as Record<string, unknown>;
    const { name } = req.params as { name: string };
    const page = parsePage(query, 10, 500);
    const ids: string[] = [];
    for (const d of store.devices.values()) if (d.group === name) ids.push(d.id);
    if (ids.length === 0) throw notFound('group not found');
    reply.header('X-Total-Count', String(ids.length));
    reply.header('Link', linkHeader(`${V1}/groups/${encodeURIComponent(name)}/devices`, query, page, ids.length));
    return slicePage(ids, page);
  });

  app.patch(`${V1}/groups/:name/devices`, async (req) => {
    const { name } = req.params as { name: string };
    parseBody(groupName, name, 'invalid group name');
    const ids = parseBody(idsSchema, req.body);
    if (ids.length === 0) throw badRequest('no device IDs present in payload');
    let matched = 0;
    let updated = 0;
    for (const id of ids) {
      const d = store.devices.get(id);
      if (!d) continue;
      matched++;
      if (d.group !== name) {
        d.group = name;
        touch(d);
        updated++;
      }
    }
    return { matched_count: matched, updated_count: updated };
  });

  app.delete(`${V1}/groups/:name/devices`, async (req) => {
    const { name } = req.params as { name: string };
    const ids = parseBody(idsSchema, req.body);
    if (ids.length === 0) throw badRequest('no device IDs present in payload');
    let updated = 0;
    for (const id of ids) {
      const d = store.devices.get(id);
      if (d && d.group === name) {
        d.group = undefined;
        touch(d);
        updated++;
      }
    }
    return { updated_count: updated };
  });

  app.delete(`${V1}/groups/:name`, async (req) => {
    const { name } = req.params as { name: string };
    let updated = 0;
    for (const d of store.devices.values()) {
      if (d.group === name) {
        d.group = undefined;
        touch(d);
        updated++;
      }
    }
    if (updated === 0) throw notFound('group not found');
    return { updated_count: updated };
  });

  const setTags = (replace: boolean) => async (req: { params: unknown; body: unknown }, reply: { code(n: number): { send(): unknown } }) => {
    const tags = parseBody(tagsSchema, req.body);
    const d = device((req.params as { id: string }).id);
    if (replace) d.tags = {};
    for (const t of tags) d.tags[t.name] = t.value;
    touch(d);
    return reply.code(200).send();
  };
  app.put(`${V1}/devices/:id/tags`, setTags(true));
  app.patch(`${V1}/devices/:id/tags`, setTags(false));
}
