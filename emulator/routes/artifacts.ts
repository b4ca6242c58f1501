// deployments service, artifact side: upload of .mender files, listing (v1, v1 paged, v2),
// details, description edits, deletion, download links, and releases (v1, v2).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ArtifactFormatError, parseArtifact } from '../artifact-file';
import type { EmulatorContext } from '../context';
import { badRequest, conflict, MenderError, notFound } from '../errors';
import { newId, sha256Hex } from '../ids';
import { first, linkHeader, parsePage, slicePage } from '../paging';
import type { ArtifactRecord } from '../types';
import { parseBody } from '../validate';
import { artifactView, Release, releases, releaseV1View, releaseV2View } from '../views';

const V1 = '/api/management/v1/deployments';
const V2 = '/api/management/v2/deployments';

const editSchema = z.object({ description: z.string().optional() });

interface UploadForm {
  description: string;
  size?: number;
  file?: Buffer;
}

async function readUploadForm(req: FastifyRequest): Promise<UploadForm> {
  if (!req.isMultipart()) throw badRequest('request Content-Type isn\'t multipart/form-data');
  const form: UploadForm = { description: '' };
  for await (const part of req.parts()) {
    if (part.type === 'file') {
      if (part.fieldname === 'artifact') {
        form.file = await part.toBuffer();
        // Mender stops reading at the artifact part; later parts are ignored.
        break;
      }
      await part.toBuffer();
      continue;
    }
    const value = String(part.value);
    if (part.fieldname === 'description') form.description = value;
    if (part.fieldname === 'size') {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw badRequest(`strconv.ParseInt: parsing "${value}": invalid syntax`);
      form.size = n;
    }
  }
  return form;
}

/** Mender's filter matching for the v1 lists: substring for names and descriptions. */
function matchesV1(a: ArtifactRecord, query: Record<string, unknown>): boolean {
  const name = first(query.name);
  const description = first(query.description);
  const deviceType = first(query.device_type);
  // ListImages (store/mongo/datastore_mongo.go) matches each filter as a case-insensitive
  // regular expression: a substring, in any case.
  const contains = (value: string, part: unknown): boolean =>
    typeof part !== 'string' || !part || value.toLowerCase().includes(part.toLowerCase());
  return contains(a.name, name) && contains(a.description, description) && a.deviceTypes.some((t) => contains(t, deviceType)) ;
}

/** v2 matching: exact, or prefix when the value ends with `*`. */
function exactOrPrefix(value: string, pattern: string): boolean {
  return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : value === pattern;
}

export function registerArtifactRoutes(app: FastifyInstance, ctx: EmulatorContext): void {
  const { store, deployments: svc } = ctx;
  const artifact = (id: string): ArtifactRecord => {
    const a = store.artifacts.get(id);
    if (!a) throw notFound('Image metadata is not found');
    return a;
  };
  const sorted = (): ArtifactRecord[] =>
    [...store.artifacts.values()].sort((a, b) => a.name.localeCompare(b.name) || a.modified.localeCompare(b.modified));

  app.get(`${V1}/artifacts`, async (req) => {
    const query = req.query as Record<string, unknown>;
    return sorted().filter((a) => matchesV1(a, query)).map(artifactView);
  });

  app.get(`${V1}/artifacts/list`, async (req, reply) => {
    const query = req.query as Record<string, unknown>;
    // ListImages takes a per_page over the maximum as the default (20), without an error.
    const perPage = Number(first(query.per_page));
    const page = parsePage(Number.isInteger(perPage) && perPage > 500 ? { ...query, per_page: '20' } : query, 20, 500);
    const sort = String(first(query.sort) ?? 'name:asc');
    const [field, dir] = sort.split(':');
    if (!['name', 'modified'].includes(field) || !['asc', 'desc'].includes(dir)) throw badRequest(`invalid sort: ${sort}`);
    const items = sorted().filter((a) => matchesV1(a, query));
    if (field === 'modified') items.sort((a, b) => a.modified.localeCompare(b.modified));
    if (dir === 'desc') items.reverse();
    reply.header('X-Total-Count', String(items.length));
    reply.header('Link', linkHeader(`${V1}/artifacts/list`, query, page, items.length));
    return slicePage(items, page).map(artifactView);
  });

  app.get(`${V2}/artifacts`, async (req, reply) => {
    const query = req.query as Record<string, unknown>;
    const page = parsePage(query, 20, 500);
    const names = query.name === undefined ? [] : (Array.isArray(query.name) ? query.name : [query.name]).map(String);
    if (names.length > 1 && names.some((n) => n.endsWith('*'))) {
      throw badRequest('prefix matching accepts a single name value');
    }
    const description = first(query.description);
    const deviceType = first(query.device_type);
    const items = sorted().filter(
      (a) =>
        (names.length === 0 || names.some((n) => exactOrPrefix(a.name, n))) &&
        (typeof description !== 'string' || exactOrPrefix(a.description, description)) &&
        (typeof deviceType !== 'string' || a.deviceTypes.some((t) => exactOrPrefix(t, deviceType))),
    );
    reply.header('Link', linkHeader(`${V2}/artifacts`, query, page, items.length));
    return slicePage(items, page).map(artifactView);
  });

  app.post(`${V1}/artifacts`, async (req, reply) => {
    const form = await readUploadForm(req);
    if (!form.file) throw badRequest('request does not contain the artifact file');
    if (form.size !== undefined && form.size !== form.file.length) {
      throw badRequest(`unexpected EOF: artifact is ${form.file.length} bytes, size says ${form.size}`);
    }
    let parsed;
    try {
      parsed = await parseArtifact(form.file);
    } catch (err) {
      if (err instanceof ArtifactFormatError) throw new MenderError(400, err.message);
      throw err;
    }
    for (const a of store.artifacts.values()) {
      if (a.name === parsed.name && a.deviceTypes.some((t) => parsed.deviceTypes.includes(t))) {
        throw conflict('an artifact with the same name and depends already exists', {
          conflict: { artifact_name: parsed.name, device_type: a.deviceTypes.filter((t) => parsed.deviceTypes.includes(t)) },
        });
      }
    }
    const id = newId();
    store.artifacts.set(id, {
      id,
      name: parsed.name,
      description: form.description,
      deviceTypes: parsed.deviceTypes,
      info: { format: 'mender', version: parsed.version },
      signed: parsed.signed,
      updates: parsed.updates,
      provides: parsed.provides,
      depends: parsed.depends,
      clearsProvides: parsed.clearsProvides,
      size: form.file.length,
      modified: ctx.clock.iso(),
      checksum: sha256Hex(form.file),
      uploaded: true,
    });
    store.artifactFiles.set(id, form.file);
    return reply.code(201).header('Location', `${V1}/artifacts/${id}`).send();
  });

  app.get(`${V1}/artifacts/:id`, async (req) => artifactView(artifact((req.params as { id: string }).id)));

  app.put(`${V1}/artifacts/:id`, async (req, reply) => {
    const body = parseBody(editSchema, req.body ?? {});
    const a = artifact((req.params as { id: string }).id);
    if (body.description !== undefined) a.description = body.description;
    a.modified = ctx.clock.iso();
    return reply.code(204).send();
  });

  app.delete(`${V1}/artifacts/:id`, async (req, reply) => {
    const a = artifact((req.params as { id: string }).id);
    if (svc.isArtifactInActiveDeployment(a.id)) throw conflict('Artifact is used in active deployment');
    store.artifacts.delete(a.id);
    store.artifactFiles.delete(a.id);
    return reply.code(204).send();
  });

  app.get(`${V1}/artifacts/:id/download`, async (req) => {
    const a = artifact((req.params as { id: string }).id);
    return {
      uri: `${ctx.baseUrl()}/__emulator/artifacts/${a.id}/download`,
      expire: new Date(ctx.clock.now() + 15 * 60 * 1000).toISOString(),
    };
  });

  const filterReleases = (query: Record<string, unknown>): Release[] => {
    const name = first(query.name);
    const description = first(query.description);
    const deviceType = first(query.device_type);
    const updateType = first(query.update_type);
    return releases(store).filter(
      (r) =>
        (typeof name !== 'string' || r.name.includes(name)) &&
        (typeof description !== 'string' || r.artifacts.some((a) => a.description.includes(description))) &&
        (typeof deviceType !== 'string' || r.artifacts.some((a) => a.deviceTypes.includes(deviceType))) &&
        (typeof updateType !== 'string' || r.artifacts.some((a) => a.updates.some((u) => u.type_info.type === updateType))),
    );
  };

  const sortReleases = (items: Release[], raw: unknown): Release[] => {
    const sort = String(first(raw) ?? 'name:asc');
    const [field, dir] = sort.split(':');
    const cmp: Record<string, (a: Release, b: Release) => number> = {
      name: (a, b) => a.name.localeCompare(b.name),
      modified: (a, b) => a.modified.localeCompare(b.modified),
      artifacts_count: (a, b) => a.artifacts.length - b.artifacts.length,
      tags: () => 0,
    };
    if (!cmp[field] || (dir !== 'asc' && dir !== 'desc')) throw badRequest(`invalid sort: ${sort}`);
    const out = [...items].sort(cmp[field]);
    return dir === 'desc' ? out.reverse() : out;
  };

  app.get(`${V1}/deployments/releases`, async (req) =>
    filterReleases(req.query as Record<string, unknown>).map(releaseV1View),
  );

  const pagedReleases = (path: string, view: (r: Release) => Record<string, unknown>) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      const query = req.query as Record<string, unknown>;
      const page = parsePage(query, 20, 500);
      const items = sortReleases(filterReleases(query), query.sort);
      reply.header('X-Total-Count', String(items.length));
      reply.header('Link', linkHeader(path, query, page, items.length));
      return slicePage(items, page).map(view);
    };
  app.get(`${V1}/deployments/releases/list`, pagedReleases(`${V1}/deployments/releases/list`, releaseV1View));
  app.get(`${V2}/deployments/releases`, pagedReleases(`${V2}/deployments/releases`, releaseV2View));

  app.get(`${V2}/deployments/releases/:name`, async (req) => {
    const { name } = req.params as { name: string };
    const r = releases(store).find((x) => x.name === name);
    if (!r) throw notFound('release not found');
    return releaseV2View(r);
  });
}
