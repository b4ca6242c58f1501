// Shared test support: the test world, HTTP clients, and contract checks against Mender's
// OpenAPI spec (the repo's verbatim copy in spec/mender-openapi.yaml).
import axios, { AxiosInstance, AxiosResponse } from 'axios';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import jestOpenAPI from 'jest-openapi';
import YAML from 'yaml';
import type { World } from '../../emulator';

export const SPEC_PATH = path.resolve(__dirname, '../../spec/mender-openapi.yaml');

interface SpecResponse {
  $ref?: string;
  headers?: Record<string, unknown>;
}
interface SpecDoc {
  paths: Record<string, Record<string, { responses: Record<string, SpecResponse> }>>;
  components: { responses: Record<string, SpecResponse> };
}

const spec = YAML.parse(readFileSync(SPEC_PATH, 'utf8')) as SpecDoc;
jestOpenAPI(spec as unknown as Parameters<typeof jestOpenAPI>[0]);

export const TOKEN = 'test-personal-access-token';
export const USER = { email: 'ops@example.org', password: 'correct horse' };

export const DEV = {
  canary: '9f1c2b3a-4d5e-4f60-a172-8394a5b6c7d8',
  failing: '1a2b3c4d-0000-4000-8000-000000000002',
  offline: '1a2b3c4d-0000-4000-8000-000000000003',
  upToDate: '1a2b3c4d-0000-4000-8000-000000000004',
  otherType: '1a2b3c4d-0000-4000-8000-000000000005',
  rejecting: '1a2b3c4d-0000-4000-8000-000000000006',
} as const;

export function testWorld(): World {
  return {
    artifacts: [
      { name: 'pi4-2026.10', device_types: ['pi4-v3-arm64'] },
      { name: 'pi4-2026.11', device_types: ['pi4-v3-arm64'] },
    ],
    devices: [
      { id: DEV.canary, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', attributes: { subscribed_branch: 'canary' } },
      { id: DEV.failing, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', attributes: { subscribed_branch: 'canary' }, behavior: { fail_install: ['pi4-2026.11'] } },
      { id: DEV.offline, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', attributes: { subscribed_branch: 'stable' }, behavior: { offline: true } },
      { id: DEV.upToDate, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.11', attributes: { subscribed_branch: 'stable' } },
      { id: DEV.otherType, device_type: 'bbb-armhf', artifact_name: 'bbb-1.0', attributes: { subscribed_branch: 'stable' } },
      { id: DEV.rejecting, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', attributes: { subscribed_branch: 'stable' }, behavior: { reject_config: true } },
    ],
    tokens: [TOKEN],
    users: [USER],
  };
}

export function client(baseURL: string, token: string | null = TOKEN): AxiosInstance {
  return axios.create({
    baseURL,
    validateStatus: () => true,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    // Keep bodies as the server sent them (a JWT is plain text).
    transitional: { silentJSONParsing: true },
  });
}

function specPathFor(pathname: string): string | undefined {
  const candidates = Object.keys(spec.paths).filter((p) =>
    new RegExp('^' + p.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+') + '$').test(pathname),
  );
  // A literal segment beats a parameter, as in any router.
  return candidates.sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0))[0];
}

/** Headers the spec declares for this response (X-Total-Count, Link, Location …). */
function declaredHeaders(res: AxiosResponse): string[] {
  const url = new URL(res.config.url ?? '', res.config.baseURL);
  const p = specPathFor(url.pathname);
  if (!p) return [];
  const op = spec.paths[p][String(res.config.method).toLowerCase()];
  let r = op?.responses[String(res.status)];
  if (r?.$ref) r = spec.components.responses[r.$ref.split('/').pop()!];
  return Object.keys(r?.headers ?? {}).filter((h) => h !== 'ETag');
}

function specStatuses(res: AxiosResponse): string[] {
  const url = new URL(res.config.url ?? '', res.config.baseURL);
  const p = specPathFor(url.pathname);
  return p ? Object.keys(spec.paths[p][String(res.config.method).toLowerCase()]?.responses ?? {}) : [];
}

/**
 * The response is one the spec describes: status, body schema, declared headers, Mender's
 * error body. `specGap: true` marks an error status the real server returns but the spec
 * does not list for that operation (see docs/emulator.md, "Where it differs from the real Mender"); the body must still be Mender's
 * Error schema, and the test fails if the spec starts listing the status.
 */
export function expectContract(res: AxiosResponse, opts: { specGap?: boolean; omitsHeaders?: string[] } = {}): void {
  if (opts.specGap) {
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(specStatuses(res)).not.toContain(String(res.status));
    expect(res.data).toSatisfySchemaInApiSpec('Error');
  } else {
    expect(res).toSatisfyApiSpec();
  }
  expect(res.headers['x-men-requestid']).toEqual(expect.any(String));
  // `omitsHeaders`: headers the spec declares and mender-server's source never sends; the test
  // fails if the emulator sends them, or if the spec stops declaring them.
  const omitted = opts.omitsHeaders ?? [];
  for (const h of declaredHeaders(res)) {
    const expected = omitted.includes(h) ? undefined : expect.any(String);
    expect({ header: h, value: res.headers[h.toLowerCase()] }).toEqual({ header: h, value: expected });
  }
  for (const h of omitted) expect(declaredHeaders(res)).toContain(h);
  if (res.status >= 400) {
    expect(res.data).toEqual({ error: expect.any(String), request_id: res.headers['x-men-requestid'] });
  }
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
