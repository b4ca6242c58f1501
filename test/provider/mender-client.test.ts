// The Mender client against the real in-process emulator, over real HTTP (no mocks). Faults
// (429, 503, connection resets, delays) come from the emulator's /__emulator/faults API.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as util from 'node:util';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { parse as parseYaml } from 'yaml';
import { writeWithMenderArtifact } from '../helpers/mender-artifact-tool';
import { startEmulator } from '../../emulator';
import { MenderApiError, MenderClient, MenderClientEvent, MenderClientOptions, createMenderClient, getAttributeString, isNotFound } from '../../provider/mender';

const TOKEN = 'pat-test-token-0123456789abcdef';
const USER = { email: 'admin@fleet.test', password: 'correct-horse-battery-staple' };
const DEVICE_COUNT = 23;
const deviceIds = Array.from({ length: DEVICE_COUNT }, (_, i) => `dev-${String(i + 1).padStart(3, '0')}`);

const world = {
  artifacts: [
    { name: 'release-1.0', device_types: ['raspberrypi4'] },
    { name: 'release-2.0', device_types: ['raspberrypi4', 'beaglebone'] },
  ],
  devices: deviceIds.map((id, i) => ({
    id,
    device_type: i % 2 === 0 ? 'raspberrypi4' : 'beaglebone',
    artifact_name: 'release-1.0',
    attributes: { site: i < 10 ? 'north' : 'south' },
  })),
  tokens: [TOKEN],
  users: [USER],
};

interface LogEntry {
  method: string;
  path: string;
  status: number;
}

let emu: { url: string; port: number; close(): Promise<void> | void };
const clients: MenderClient[] = [];
let tmpDir: string;

/** Every operation (method + path template) any client of this suite sent. */
const operationsSent = new Set<string>();

function client(extra: Partial<MenderClientOptions> = {}): MenderClient {
  const onEvent = extra.onEvent;
  const c = createMenderClient({
    serverUrl: emu.url, token: TOKEN, baseDelayMs: 5, maxDelayMs: 40, timeoutMs: 5_000, ...extra,
    onEvent: (e) => {
      if (e.type === 'request') operationsSent.add(`${e.method} ${e.path}`);
      onEvent?.(e);
    },
  });
  clients.push(c);
  return c;
}

async function admin(method: string, p: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${emu.url}/__emulator/${p}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`emulator admin ${method} ${p}: ${res.status} ${await res.text()}`);
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

const fault = (f: Record<string, unknown>) => admin('POST', 'faults', f);
const clearLog = () => admin('DELETE', 'requests');
async function requestLog(): Promise<LogEntry[]> {
  const body = (await admin('GET', 'requests')) as LogEntry[] | { requests: LogEntry[] };
  return Array.isArray(body) ? body : body.requests;
}

/** Expects the promise to reject with a MenderApiError and returns it. */
async function failure(p: Promise<unknown>): Promise<MenderApiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MenderApiError);
    return e as MenderApiError;
  }
  throw new Error('expected a MenderApiError, but the call succeeded');
}

/** A rootfs-image artifact written by Mender's own mender-artifact. */
async function makeArtifactFile(name: string, deviceTypes: string[]): Promise<string> {
  return writeWithMenderArtifact({ name, deviceTypes, kind: { type: 'rootfs-image', content: Buffer.from(`image of ${name}`) } }, fs.mkdtempSync(path.join(tmpDir, 'artifact-')));
}

beforeAll(async () => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mender-client-'));
  emu = await startEmulator({ world, port: 0 });
});

afterAll(async () => {
  for (const c of clients) c.close();
  await emu?.close();
  fs.rmSync(tmpDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await admin('DELETE', 'faults').catch(() => undefined);
  await clearLog();
});

describe('authentication', () => {
  it('uses a personal access token', async () => {
    const dev = await client().getDevice('dev-001');
    expect(dev.id).toBe('dev-001');
    expect(getAttributeString(dev, 'inventory', 'device_type')).toBe('raspberrypi4');
    expect(getAttributeString(dev, 'inventory', 'site')).toBe('north');
    expect(getAttributeString(dev, 'inventory', 'no-such-attribute')).toBeUndefined();
  });

  it('logs in with user and password once, then uses the JWT', async () => {
    const events: MenderClientEvent[] = [];
    const c = client({ token: undefined, username: USER.email, password: USER.password, onEvent: (e) => events.push(e) });
    const [a, b] = await Promise.all([c.getDevice('dev-001'), c.getDevice('dev-002')]);
    expect([a.id, b.id]).toEqual(['dev-001', 'dev-002']);
    await c.getDevice('dev-003');
    const log = await requestLog();
    expect(log.filter((r) => r.path === '/api/management/v1/useradm/auth/login')).toEqual([expect.objectContaining({ method: 'POST', status: 200 })]);
    expect(events.filter((e) => e.type === 'login')).toEqual([{ type: 'login', ok: true }]);
  });

  it('logs in again once when the JWT is refused (expired), then repeats the request', async () => {
    const c = client({ token: undefined, username: USER.email, password: USER.password });
    await c.getDevice('dev-001');
    // A 401 from the fault injection stands in for an expired JWT.
    await fault({ method: 'GET', path: '^/api/management/v1/inventory/devices/dev-002$', count: 1, status: 401 });
    expect((await c.getDevice('dev-002')).id).toBe('dev-002');
    const log = await requestLog();
    expect(log.filter((r) => r.path === '/api/management/v1/useradm/auth/login')).toHaveLength(2);
    expect(log.filter((r) => r.path.endsWith('/dev-002')).map((r) => r.status)).toEqual([401, 200]);

    // A second refusal right after a fresh login is an error, not a loop.
    await fault({ method: 'GET', path: '^/api/management/v1/inventory/devices/dev-003$', count: 2, status: 401 });
    const err = await failure(c.getDevice('dev-003'));
    expect(err.status).toBe(401);
  });

  it('a wrong password is a 401 naming the login endpoint, without the password', async () => {
    const c = client({ token: undefined, username: USER.email, password: 'wrong-password-123' });
    const err = await failure(c.getDevice('dev-001'));
    expect(err.status).toBe(401);
    expect(err.message).toContain('POST /api/management/v1/useradm/auth/login');
    expect(err.message).toMatch(/username and password/);
    const everything = `${err.message} ${JSON.stringify(err)} ${util.inspect(err, { depth: 10 })} ${err.stack}`;
    expect(everything).not.toContain('wrong-password-123');
    expect(everything).not.toContain(Buffer.from(`${USER.email}:wrong-password-123`).toString('base64'));
  });

  it('a wrong token is a 401 that names the endpoint and never shows the token', async () => {
    const badToken = 'pat-wrong-token-DO-NOT-LEAK-42';
    const c = client({ token: badToken });
    const err = await failure(c.getDevice('dev-005'));
    expect(err.status).toBe(401);
    expect(err.kind).toBe('http');
    expect(err.message).toContain('GET /api/management/v1/inventory/devices/{id}');
    expect(err.message).toContain('device dev-005');
    expect(err.message).toMatch(/MENDER_ACCESS_TOKEN/);
    expect(err.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const everything = `${err.message} ${JSON.stringify(err)} ${util.inspect(err, { depth: 10, showHidden: true })} ${err.stack}`;
    expect(everything).not.toContain(badToken);
    // 401 is not retried with a token: exactly one request.
    expect((await requestLog()).filter((r) => r.path.startsWith('/api/management/v1/inventory'))).toHaveLength(1);
  });
});

describe('TLS with a custom CA', () => {
  // The emulator speaks plain HTTP; a TLS-terminating proxy in front of it (a self-signed
  // certificate made with openssl) gives the client a real HTTPS server with a private CA.
  let proxy: tls.Server;
  let httpsUrl: string;
  let certPem: string;

  beforeAll(async () => {
    const key = path.join(tmpDir, 'key.pem');
    const cert = path.join(tmpDir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    certPem = fs.readFileSync(cert, 'utf8');
    proxy = tls.createServer({ key: fs.readFileSync(key), cert: certPem }, (socket) => {
      const upstream = net.connect(emu.port, '127.0.0.1');
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    httpsUrl = `https://localhost:${(proxy.address() as net.AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await new Promise((resolve) => proxy?.close(resolve));
  });

  it('trusts the server when given its CA, and says what to do when not', async () => {
    const ok = client({ serverUrl: httpsUrl, caCert: certPem });
    expect((await ok.getDevice('dev-001')).id).toBe('dev-001');

    const err = await failure(client({ serverUrl: httpsUrl, maxRetries: 0 }).getDevice('dev-001'));
    expect(err.kind).toBe('network');
    expect(err.hint).toMatch(/caCert/);
  });
});

describe('retries', () => {
  it('honours Retry-After on 429', async () => {
    await fault({ method: 'GET', path: '^/api/management/v1/inventory/devices/dev-002$', count: 1, status: 429, retry_after: 1 });
    const retries: MenderClientEvent[] = [];
    const c = client({ onEvent: (e) => e.type === 'retry' && retries.push(e) });
    const started = Date.now();
    const dev = await c.getDevice('dev-002');
    const elapsed = Date.now() - started;
    expect(dev.id).toBe('dev-002');
    // Backoff alone would wait at most 40 ms; the server asked for 1 s.
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(retries).toEqual([expect.objectContaining({ type: 'retry', delayMs: 1000, reason: 'HTTP 429' })]);
    expect((await requestLog()).map((r) => r.status)).toEqual([429, 200]);
  });

  it('fails at once when Retry-After is longer than the client accepts', async () => {
    await fault({ method: 'GET', path: '^/api/management/v1/inventory/devices/dev-002$', count: 1, status: 429, retry_after: 120 });
    const err = await failure(client({ maxRetryAfterMs: 5_000 }).getDevice('dev-002'));
    expect(err.status).toBe(429);
    expect(err.retryAfterSeconds).toBe(120);
    expect(err.message).toMatch(/wait 120s/);
  });

  it('retries a burst of 503 and then succeeds', async () => {
    await fault({ path: '^/api/management/v1/deployments/artifacts/list$', count: 3, status: 503 });
    const artifacts = await client().listArtifacts();
    expect(artifacts.map((a) => a.name).sort()).toEqual(['release-1.0', 'release-2.0']);
    expect((await requestLog()).map((r) => r.status)).toEqual([503, 503, 503, 200]);
  });

  it('gives up after maxRetries and says how many attempts were made', async () => {
    await fault({ path: '^/api/management/v1/inventory/devices/dev-003$', count: 10, status: 503 });
    const err = await failure(client({ maxRetries: 2 }).getDevice('dev-003'));
    expect(err.status).toBe(503);
    expect(err.attempts).toBe(3);
    expect(err.message).toContain('after 3 attempts');
    expect(err.serverMessage).toBe('injected fault');
    expect((await requestLog())).toHaveLength(3);
  });

  it('retries a GET whose connection is reset', async () => {
    await fault({ method: 'GET', path: '^/api/management/v1/inventory/devices/dev-004$', count: 2, reset: true });
    const events: MenderClientEvent[] = [];
    const dev = await client({ onEvent: (e) => events.push(e) }).getDevice('dev-004');
    expect(dev.id).toBe('dev-004');
    expect(events.filter((e) => e.type === 'retry').map((e) => e.type === 'retry' && e.reason)).toEqual(['ECONNRESET', 'ECONNRESET']);
    expect(events.filter((e) => e.type === 'request')).toHaveLength(3);
    expect((await requestLog()).filter((r) => r.path.endsWith('dev-004')).at(-1)?.status).toBe(200);
  });

  it('retries the inventory search (a POST marked idempotent) on 503', async () => {
    await fault({ method: 'POST', path: '^/api/management/v2/inventory/filters/search$', count: 2, status: 503 });
    const devices = await client().searchDevices({ filters: [{ scope: 'inventory', attribute: 'site', type: '$eq', value: 'north' }] });
    expect(devices).toHaveLength(10);
  });

  it('does NOT retry a deployment creation on 503: the error surfaces', async () => {
    await fault({ method: 'POST', path: '^/api/management/v1/deployments/deployments$', count: 1, status: 503 });
    const c = client();
    const err = await failure(c.createDeployment({ name: 'not-retried-503', artifact_name: 'release-2.0', devices: ['dev-001'] }));
    expect(err.status).toBe(503);
    expect(err.message).toContain('POST /api/management/v1/deployments/deployments');
    expect(err.message).toContain('deployment "not-retried-503"');
    expect(err.hint).toMatch(/not safe to repeat/);
    const posts = (await requestLog()).filter((r) => r.method === 'POST' && r.path === '/api/management/v1/deployments/deployments');
    expect(posts).toHaveLength(1);
    expect(await c.findDeploymentsByName('not-retried-503')).toEqual([]);
  });

  it('does NOT retry a deployment creation whose connection is reset', async () => {
    await fault({ method: 'POST', path: '^/api/management/v1/deployments/deployments$', count: 1, reset: true });
    const err = await failure(client().createDeployment({ name: 'not-retried-reset', artifact_name: 'release-2.0', devices: ['dev-001'] }));
    expect(err.kind).toBe('network');
    expect(err.message).toContain('POST /api/management/v1/deployments/deployments');
    expect(err.hint).toMatch(/may or may not have reached the server/);
    expect(err.message).not.toContain(TOKEN);
  });

  it('times out a slow request and retries it when it is safe', async () => {
    await fault({ method: 'GET', path: '^/api/management/v1/inventory/devices/dev-006$', count: 1, delay_ms: 1500 });
    const dev = await client({ timeoutMs: 500 }).getDevice('dev-006');
    expect(dev.id).toBe('dev-006');

    await fault({ method: 'GET', path: '^/api/management/v1/inventory/devices/dev-006$', count: 5, delay_ms: 800 });
    const err = await failure(client({ timeoutMs: 200, maxRetries: 1 }).getDevice('dev-006'));
    expect(err.kind).toBe('timeout');
    expect(err.message).toContain('GET /api/management/v1/inventory/devices/{id} (device dev-006) timed out');
  });
});

describe('pagination', () => {
  it('collects every device of a search across several pages', async () => {
    const devices = await client().searchDevices({ per_page: 5 });
    expect(devices.map((d) => d.id).sort()).toEqual(deviceIds);
    const pages = (await requestLog()).filter((r) => r.path === '/api/management/v2/inventory/filters/search');
    expect(pages).toHaveLength(Math.ceil(DEVICE_COUNT / 5));
  });

  it('follows pages of a GET list (Link / X-Total-Count) and of deployment devices', async () => {
    const c = client({ perPage: 4 });
    const { id } = await c.createDeployment({ name: 'paging-deployment', artifact_name: 'release-2.0', devices: deviceIds.slice(0, 11) });
    // Records appear as devices poll, and the list is sorted by status: paging is stable once
    // every device is done.
    const deadline = Date.now() + 20_000;
    while ((await c.countDeploymentDevices(id, 'finished')) < 11 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await clearLog();
    const devices = await c.listDeploymentDevices(id);
    expect(devices.map((d) => d.id).sort()).toEqual(deviceIds.slice(0, 11));
    const pages = (await requestLog()).filter((r) => r.path.endsWith('/devices/list'));
    expect(pages).toHaveLength(3);
    await c.abortDeployment(id).catch((e) => {
      if (!(e instanceof MenderApiError && e.status === 422)) throw e;
    });
  });
});

describe('response validation', () => {
  it('a body that does not match the schema is an error naming the endpoint and the mismatch', async () => {
    // The emulator's fault injection answers {"error": ..., "request_id": ...} with the status we
    // ask for; with 200 that is a well-formed response whose body is not a device inventory.
    await fault({ method: 'GET', path: '^/api/management/v1/inventory/devices/dev-007$', count: 1, status: 200 });
    const err = await failure(client().getDevice('dev-007'));
    expect(err.kind).toBe('validation');
    expect(err.message).toContain('GET /api/management/v1/inventory/devices/{id} (device dev-007) returned a response that does not match the Mender API');
    expect(err.details?.join('\n')).toMatch(/^id: /m);
  });

  it('a list body that is not an array is an error naming the endpoint', async () => {
    await fault({ method: 'GET', path: '^/api/management/v2/deployments/deployments$', count: 1, status: 200 });
    const err = await failure(client().listAllDeployments());
    expect(err.kind).toBe('validation');
    expect(err.message).toContain('GET /api/management/v2/deployments/deployments');
    expect(err.details).toEqual([expect.stringMatching(/^\(body\): .*array/i)]);
  });
});

describe('bounded concurrency', () => {
  it('never has more requests in flight than the client allows', async () => {
    await fault({ method: 'GET', path: '^/api/management/v1/inventory/devices/', count: 12, delay_ms: 100 });
    let inFlight = 0;
    let maxInFlight = 0;
    const c = client({
      concurrency: 3,
      onEvent: (e) => {
        if (e.type === 'request') maxInFlight = Math.max(maxInFlight, ++inFlight);
        if (e.type === 'response') inFlight--;
      },
    });
    const started = Date.now();
    // mapLimited asks for 12 at once; the client lets only 3 reach the server at a time.
    const devices = await c.mapLimited(deviceIds.slice(0, 12), (id) => c.getDevice(id), 12);
    expect(devices.map((d) => d.id)).toEqual(deviceIds.slice(0, 12));
    expect(maxInFlight).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4 * 100 - 20);
  });

  it('mapLimited bounds per-device work to its limit', async () => {
    const c = client({ concurrency: 8 });
    let active = 0;
    let max = 0;
    const types = await c.mapLimited(deviceIds, async (id) => {
      active++;
      max = Math.max(max, active);
      try {
        return getAttributeString(await c.getDevice(id), 'inventory', 'device_type');
      } finally {
        active--;
      }
    }, 2);
    expect(types).toHaveLength(DEVICE_COUNT);
    expect(max).toBe(2);
  });
});

describe('the endpoints the resources use', () => {
  it('artifacts: find by name, upload, delete', async () => {
    const c = client();
    const found = await c.findArtifactsByName('release-2.0');
    expect(found.map((a) => [a.name, [...a.device_types_compatible].sort()])).toEqual([['release-2.0', ['beaglebone', 'raspberrypi4']]]);
    expect(await c.findArtifactsByName('no-such-release')).toEqual([]);

    const file = await makeArtifactFile('uploaded-3.0', ['raspberrypi4']);
    await fault({ method: 'POST', path: '^/api/management/v1/deployments/artifacts$', count: 1, status: 503 });
    const err = await failure(c.uploadArtifact(file, { description: 'from a test' }));
    expect(err.status).toBe(503); // an upload is never retried
    const { id } = await c.uploadArtifact(file, { description: 'from a test' });
    expect(await c.findArtifactsByName('uploaded-3.0')).toEqual([expect.objectContaining({ id, name: 'uploaded-3.0', device_types_compatible: ['raspberrypi4'], description: 'from a test' })]);
    await c.deleteArtifact(id);
    expect(await c.findArtifactsByName('uploaded-3.0')).toEqual([]);
    const gone = await failure(c.deleteArtifact(id));
    expect(isNotFound(gone)).toBe(true);
    expect(gone.message).toContain(`artifact id ${id}`);
    expect(gone.hint).toMatch(/does not exist/);

    const missing = await failure(c.uploadArtifact(path.join(tmpDir, 'absent.mender')));
    expect(missing.kind).toBe('usage');
  });

  it('deployments: create, find by name, get, list, statistics, devices, abort, device history', async () => {
    const c = client();
    const targets = ['dev-010', 'dev-011'];
    const { id } = await c.createDeployment({ name: 'fleet-abc123', artifact_name: 'release-2.0', devices: targets, force_installation: true });
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const byName = await c.findDeploymentsByName('fleet-abc123');
    expect(byName.map((d) => d.id)).toEqual([id]);
    const dep = await c.getDeployment(id);
    expect(dep).toMatchObject({ id, name: 'fleet-abc123', artifact_name: 'release-2.0' });
    const stats = await c.getDeploymentStatistics(id);
    expect(Object.values(stats).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(0);
    expect((await c.listAllDeployments({ name: 'fleet-abc123' })).map((d) => d.id)).toEqual([id]);

    // A device's history holds a deployment once the device has polled for it.
    const deadline = Date.now() + 20_000;
    while (!(await c.listDeploymentDevices(id)).some((d) => d.id === 'dev-011') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await c.abortDeviceDeployments('dev-010');
    await c.abortDeployment(id).catch((e) => {
      // The emulated devices may have finished already; a finished deployment cannot be aborted.
      if (!(e instanceof MenderApiError && e.status === 422)) throw e;
    });
    const history = await c.getDeviceDeploymentHistory('dev-011');
    expect(history.some((h) => h.deployment.id === id)).toBe(true);

    const notFound = await failure(c.getDeployment('00000000-0000-4000-8000-000000000000'));
    expect(notFound.status).toBe(404);
    expect(notFound.message).toContain('GET /api/management/v1/deployments/deployments/{id} (deployment 00000000-0000-4000-8000-000000000000)');
  });

  it('device configuration: set, get, deploy', async () => {
    const c = client();
    await c.setDeviceConfiguration('dev-012', { timezone: 'UTC', mode: 'kiosk' });
    const conf = await c.getDeviceConfiguration('dev-012');
    expect(conf.configured).toEqual({ timezone: 'UTC', mode: 'kiosk' });
    expect(typeof conf.reported).toBe('object');
    const { deployment_id } = await c.deployDeviceConfiguration('dev-012', {});
    expect(deployment_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });
});

// Checked after every test of this file has used the client, in whatever order they ran.
afterAll(() => {
  const spec = parseYaml(fs.readFileSync(path.resolve(__dirname, '../../spec/mender-openapi.yaml'), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
  // Parameter names differ between our templates and the spec's at times; compare shapes.
  const shape = (p: string) => p.replace(/\{[^}]+\}/g, '{}');
  const specOps = new Set(Object.entries(spec.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${shape(p)}`)));
  const normalise = (op: string) => {
    const [method, p] = op.split(' ');
    return `${method} ${shape(p)}`;
  };
  // The contract: every request the client sent in this file is an operation of the Mender OpenAPI spec.
  expect([...operationsSent].sort().filter((op) => !specOps.has(normalise(op)))).toEqual([]);
});
