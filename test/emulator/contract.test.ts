// Every implemented Mender endpoint, success and error cases, validated against Mender's
// OpenAPI spec. Devices are frozen (hour-long poll interval) so states are deterministic.
import { AxiosInstance, AxiosResponse } from 'axios';
import { RunningEmulator, startEmulator } from '../../emulator';
import { deviceKey, signedAuthRequest } from '../helpers/device-auth';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeMenderArtifact } from '../helpers/mender-artifact';
import { writeWithMenderArtifact } from '../helpers/mender-artifact-tool';
import { client, DEV, expectContract, testWorld, TOKEN, USER } from './support';

const M = '/api/management';
const HOUR = 3600 * 1000;

let emu: RunningEmulator;
let api: AxiosInstance;

// A fresh server per test, so that every test holds in any order (jest --randomize).
beforeEach(async () => {
  emu = await startEmulator({ world: testWorld(), timing: { pollIntervalMs: HOUR, stepMs: HOUR, workflowDelayMs: HOUR } });
  api = client(emu.url);
});
afterEach(async () => {
  await emu.close();
});

const imageOf = (name: string) => Buffer.from(`image ${name}`.repeat(1000));
const artifactDir = fs.mkdtempSync(path.join(os.tmpdir(), 'contract-artifacts-'));
afterAll(() => fs.rmSync(artifactDir, { recursive: true, force: true }));

/** A rootfs-image artifact as Mender's own mender-artifact writes it. */
function toolArtifact(name: string, deviceTypes: string[]): Buffer {
  return fs.readFileSync(writeWithMenderArtifact({ name, deviceTypes, kind: { type: 'rootfs-image', content: imageOf(name) } }, fs.mkdtempSync(path.join(artifactDir, 'a-'))));
}

async function upload(name: string, deviceTypes: string[], description = ''): Promise<string> {
  const form = new FormData();
  const file = toolArtifact(name, deviceTypes);
  form.append('size', String(file.length));
  form.append('description', description);
  form.append('artifact', new Blob([file]), `${name}.mender`);
  const res = await api.post(`${M}/v1/deployments/artifacts`, form);
  expectContract(res);
  expect(res.status).toBe(201);
  return String(res.headers.location).split('/').pop()!;
}

describe('useradm', () => {
  it('logs in with Basic auth and the JWT authorises management calls', async () => {
    const res = await client(emu.url, null).post(`${M}/v1/useradm/auth/login`, undefined, {
      auth: { username: USER.email, password: USER.password },
    });
    expectContract(res);
    expect(res.status).toBe(200);
    expect(String(res.headers['content-type'])).toMatch(/^application\/jwt/);
    const jwt = String(res.data);
    expect(jwt.split('.')).toHaveLength(3);
    const devices = await client(emu.url, jwt).get(`${M}/v1/inventory/devices`);
    expect(devices.status).toBe(200);
  });

  // mender-cli 1.9 `login` sends Content-Type: application/json and no body. useradm's
  // AuthLoginHandler (backend/services/useradm/api/http/api_useradm.go) binds login options only
  // when a body is sent (ContentLength != 0), so that logs in; a malformed body is a 400.
  it('logs in with an empty application/json body, as mender-cli sends it, and refuses a malformed one', async () => {
    // fetch, not axios: axios drops an empty body's Content-Type.
    const login = (body: string) =>
      fetch(`${emu.url}${M}/v1/useradm/auth/login`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${USER.email}:${USER.password}`).toString('base64')}`, 'content-type': 'application/json' },
        body,
      });
    const empty = await login('');
    expect(empty.status).toBe(200);
    expect(empty.headers.get('content-type')).toMatch(/^application\/jwt/);
    expect((await empty.text()).split('.')).toHaveLength(3);
    expect((await login('{"no_expiry": tru')).status).toBe(400);
  });

  it('rejects wrong credentials and missing auth with 401', async () => {
    const wrong = await client(emu.url, null).post(`${M}/v1/useradm/auth/login`, undefined, {
      auth: { username: USER.email, password: 'nope' },
    });
    expectContract(wrong);
    expect(wrong.status).toBe(401);
    const none = await client(emu.url, null).post(`${M}/v1/useradm/auth/login`);
    expectContract(none);
    expect(none.status).toBe(401);
  });

  it('answers 401 with Mender error body for missing, wrong or forged tokens', async () => {
    for (const token of [null, 'not-a-token', `${TOKEN}x`, 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln']) {
      for (const url of [`${M}/v1/inventory/devices`, `${M}/v1/deployments/deployments`, `${M}/v1/deployments/artifacts`]) {
        const res = await client(emu.url, token).get(url);
        // The spec omits 401 for inventory listing; the real gateway returns it anyway.
        expectContract(res, { specGap: url.includes('/inventory/') });
        expect(res.status).toBe(401);
      }
    }
  });
});

describe('inventory', () => {
  it('lists devices with paging headers', async () => {
    const res = await api.get(`${M}/v1/inventory/devices`, { params: { per_page: 2, page: 2 } });
    expectContract(res);
    expect(res.status).toBe(200);
    expect(res.headers['x-total-count']).toBe('6');
    expect(res.data).toHaveLength(2);
    expect(res.headers.link).toContain('rel="first"');
    expect(res.headers.link).toContain('rel="prev"');
    expect(res.headers.link).toContain('rel="next"');
    const filtered = await api.get(`${M}/v1/inventory/devices`, { params: { 'inventory/subscribed_branch': 'canary' } });
    expectContract(filtered);
    expect(filtered.data.map((d: { id: string }) => d.id).sort()).toEqual([DEV.canary, DEV.failing].sort());
    const bad = await api.get(`${M}/v1/inventory/devices`, { params: { per_page: 'many' } });
    expectContract(bad);
    expect(bad.status).toBe(400);
  });

  it('gets one device with identity, inventory and system attributes', async () => {
    const res = await api.get(`${M}/v1/inventory/devices/${DEV.canary}`);
    expectContract(res);
    const attrs = res.data.attributes as { name: string; scope: string; value: unknown }[];
    const get = (scope: string, name: string) => attrs.find((a) => a.scope === scope && a.name === name)?.value;
    expect(get('inventory', 'device_type')).toBe('pi4-v3-arm64');
    expect(get('inventory', 'artifact_name')).toBe('pi4-2026.10');
    expect(get('inventory', 'rootfs-image.version')).toBe('pi4-2026.10');
    expect(get('inventory', 'subscribed_branch')).toBe('canary');
    expect(get('identity', 'status')).toBe('accepted');
    expect(get('identity', 'mac')).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(get('system', 'created_ts')).toEqual(expect.any(String));
    const missing = await api.get(`${M}/v1/inventory/devices/00000000-0000-4000-8000-000000000000`);
    expectContract(missing);
    expect(missing.status).toBe(404);
  });

  it('searches with filters, attribute selection, sort and paging', async () => {
    const res = await api.post(`${M}/v2/inventory/filters/search`, {
      page: 1,
      per_page: 2,
      filters: [
        { scope: 'inventory', attribute: 'device_type', type: '$eq', value: 'pi4-v3-arm64' },
        { scope: 'inventory', attribute: 'subscribed_branch', type: '$in', value: ['canary', 'stable'] },
        { scope: 'inventory', attribute: 'artifact_name', type: '$ne', value: 'pi4-2026.11' },
        { scope: 'identity', attribute: 'mac', type: '$exists', value: true },
      ],
      sort: [{ scope: 'identity', attribute: 'mac', order: 'asc' }],
      attributes: [{ scope: 'inventory', attribute: 'artifact_name' }],
    });
    // inventory api/http/api_inventory.go, FiltersSearchHandler: X-Total-Count only, no Link
    // (the spec declares one).
    expectContract(res, { omitsHeaders: ['Link'] });
    expect(res.status).toBe(200);
    expect(res.headers['x-total-count']).toBe('4');
    expect(res.headers.link).toBeUndefined();
    expect(res.data).toHaveLength(2);
    for (const d of res.data) expect(d.attributes).toEqual([{ name: 'artifact_name', scope: 'inventory', value: 'pi4-2026.10' }]);
    const empty = await api.post(`${M}/v2/inventory/filters/search`, {});
    expectContract(empty, { omitsHeaders: ['Link'] });
    expect(empty.headers['x-total-count']).toBe('6');
  });

  it('rejects malformed searches with 400', async () => {
    for (const body of [
      { filters: [{ scope: 'inventory', attribute: 'x', type: '$bogus', value: 'y' }] },
      { filters: [{ scope: 'nowhere', attribute: 'x', type: '$eq', value: 'y' }] },
      { per_page: 'ten' },
      { filters: [{ scope: 'inventory', attribute: 'x', type: '$in', value: 'not-a-list' }] },
    ]) {
      const res = await api.post(`${M}/v2/inventory/filters/search`, body);
      expectContract(res);
      expect(res.status).toBe(400);
    }
    const malformed = await api.post(`${M}/v2/inventory/filters/search`, '{"filters": [', {
      headers: { 'Content-Type': 'application/json' },
    });
    expectContract(malformed);
    expect(malformed.status).toBe(400);
  });

  it('lists filterable attributes', async () => {
    const res = await api.get(`${M}/v2/inventory/filters/attributes`);
    expectContract(res);
    expect(res.data).toContainEqual({ name: 'device_type', scope: 'inventory', count: 6 });
  });

  it('manages groups', async () => {
    let res = await api.put(`${M}/v1/inventory/devices/${DEV.otherType}/group`, { group: 'lab' });
    expectContract(res);
    expect(res.status).toBe(204);
    res = await api.get(`${M}/v1/inventory/devices/${DEV.otherType}/group`);
    expectContract(res);
    expect(res.data).toEqual({ group: 'lab' });
    res = await api.patch(`${M}/v1/inventory/groups/lab/devices`, [DEV.upToDate, 'no-such-device']);
    expectContract(res);
    expect(res.data).toEqual({ matched_count: 1, updated_count: 1 });
    res = await api.get(`${M}/v1/inventory/groups`);
    expectContract(res);
    expect(res.data).toEqual(['lab']);
    res = await api.get(`${M}/v1/inventory/groups/lab/devices`);
    expectContract(res);
    expect(res.data.sort()).toEqual([DEV.otherType, DEV.upToDate].sort());
    res = await api.get(`${M}/v1/inventory/devices`, { params: { group: 'lab' } });
    expectContract(res);
    expect(res.headers['x-total-count']).toBe('2');
    res = await api.post(`${M}/v2/inventory/filters/search`, {
      filters: [{ scope: 'system', attribute: 'group', type: '$eq', value: 'lab' }],
    });
    expect(res.headers['x-total-count']).toBe('2');
    res = await api.delete(`${M}/v1/inventory/groups/lab/devices`, { data: [DEV.upToDate] });
    expectContract(res);
    expect(res.data).toEqual({ updated_count: 1 });
    res = await api.delete(`${M}/v1/inventory/devices/${DEV.otherType}/group/lab`);
    expectContract(res);
    expect(res.status).toBe(204);
    res = await api.delete(`${M}/v1/inventory/devices/${DEV.otherType}/group/lab`);
    expectContract(res);
    expect(res.status).toBe(404);
    res = await api.put(`${M}/v1/inventory/devices/${DEV.otherType}/group`, { group: 'no spaces!' });
    expectContract(res);
    expect(res.status).toBe(400);
    res = await api.put(`${M}/v1/inventory/devices/00000000-0000-4000-8000-000000000000/group`, { group: 'lab' });
    expectContract(res);
    expect(res.status).toBe(404);
    res = await api.get(`${M}/v1/inventory/groups/nothing-here/devices`);
    expectContract(res);
    expect(res.status).toBe(404);
  });
});

describe('artifacts and releases', () => {
  // Every test of the block sees the world's two artifacts and one uploaded build.
  let uploaded: string;
  beforeEach(async () => {
    uploaded = await upload('app-1.0', ['pi4-v3-arm64', 'bbb-armhf'], 'first build');
  });

  it('uploads a real .mender file and reads back what mender-artifact would print', async () => {
    const id = uploaded;
    const res = await api.get(`${M}/v1/deployments/artifacts/${id}`);
    expectContract(res);
    expect(res.data).toMatchObject({
      id,
      name: 'app-1.0',
      description: 'first build',
      device_types_compatible: ['pi4-v3-arm64', 'bbb-armhf'],
      info: { format: 'mender', version: 3 },
    });
    // What mender-artifact wrote: the image file under its own name, its size and sha256.
    const image = imageOf('app-1.0');
    const checksum = createHash('sha256').update(image).digest('hex');
    expect(res.data.updates).toHaveLength(1);
    expect(res.data.updates[0].type_info.type).toBe('rootfs-image');
    expect(res.data.updates[0].files.map((f: { name: string; size: number; checksum: string }) => ({ name: f.name, size: f.size, checksum: f.checksum }))).toEqual([{ name: 'app-1.0.ext4', size: image.length, checksum }]);
    expect(res.data.artifact_provides['rootfs-image.checksum']).toBe(checksum);
    const dup = new FormData();
    dup.append('artifact', new Blob([toolArtifact('app-1.0', ['bbb-armhf'])]), 'dup.mender');
    const conflict = await api.post(`${M}/v1/deployments/artifacts`, dup);
    expect(conflict.status).toBe(409);
    expect(conflict).toSatisfyApiSpec();
    expect(conflict.data).toMatchObject({ error: 'an artifact with the same name and depends already exists' });
  });

  it('rejects a truncated artifact, a missing file part and non-multipart bodies with 400', async () => {
    const before = (await api.get(`${M}/v1/deployments/artifacts`)).data.length;
    const file = await writeMenderArtifact({ name: 'broken', deviceTypes: ['x'], files: [{ name: 'f', content: 'x'.repeat(5000) }] });
    const truncated = new FormData();
    truncated.append('artifact', new Blob([file.subarray(0, file.length - 1500)]), 'broken.mender');
    let res = await api.post(`${M}/v1/deployments/artifacts`, truncated);
    expectContract(res);
    expect(res.status).toBe(400);
    const noFile = new FormData();
    noFile.append('description', 'nothing');
    res = await api.post(`${M}/v1/deployments/artifacts`, noFile);
    expectContract(res);
    expect(res.status).toBe(400);
    expect(res.data.error).toBe('request does not contain the artifact file');
    res = await api.post(`${M}/v1/deployments/artifacts`, { artifact: 'x' });
    expectContract(res);
    expect(res.status).toBe(400);
    expect((await api.get(`${M}/v1/deployments/artifacts`)).data).toHaveLength(before);
  });

  it('lists artifacts (v1, v1 paged, v2) and filters them', async () => {
    let res = await api.get(`${M}/v1/deployments/artifacts`, { params: { name: 'pi4-2026' } });
    expectContract(res);
    expect(res.data.map((a: { name: string }) => a.name)).toEqual(['pi4-2026.10', 'pi4-2026.11']);
    res = await api.get(`${M}/v1/deployments/artifacts/list`, { params: { per_page: 1, sort: 'name:desc' } });
    expectContract(res);
    expect(res.data).toHaveLength(1);
    expect(res.headers['x-total-count']).toBe('3');
    res = await api.get(`${M}/v2/deployments/artifacts`, { params: { name: 'pi4-*' } });
    expectContract(res);
    expect(res.data).toHaveLength(2);
    res = await api.get(`${M}/v2/deployments/artifacts`, { params: { name: ['pi4-2026.10', 'app-1.0'] }, paramsSerializer: { indexes: null } });
    expectContract(res);
    expect(res.data).toHaveLength(2);
    res = await api.get(`${M}/v1/deployments/artifacts/list`, { params: { sort: 'size:asc' } });
    expectContract(res, { specGap: true });
    expect(res.status).toBe(400);
  });

  it('edits, links, and 404s unknown artifacts', async () => {
    const list = await api.get(`${M}/v1/deployments/artifacts`, { params: { name: 'app-1.0' } });
    const id = list.data[0].id as string;
    let res = await api.put(`${M}/v1/deployments/artifacts/${id}`, { description: 'renamed' });
    expectContract(res);
    expect(res.status).toBe(204);
    res = await api.get(`${M}/v1/deployments/artifacts/${id}/download`);
    expectContract(res);
    const file = await client(emu.url, null).get(res.data.uri, { responseType: 'arraybuffer' });
    expect(file.status).toBe(200);
    expect(Buffer.from(file.data).subarray(0, 7).toString()).toBe('version');
    for (const [method, url] of [
      ['get', `${M}/v1/deployments/artifacts/00000000-0000-4000-8000-000000000000`],
      ['delete', `${M}/v1/deployments/artifacts/00000000-0000-4000-8000-000000000000`],
      ['get', `${M}/v1/deployments/artifacts/00000000-0000-4000-8000-000000000000/download`],
    ] as const) {
      res = await api.request({ method, url });
      expectContract(res);
      expect(res.status).toBe(404);
    }
  });

  it('groups artifacts into releases (v1, v1 paged, v2, v2 by name)', async () => {
    let res = await api.get(`${M}/v1/deployments/deployments/releases`);
    expectContract(res);
    expect(res.data.map((r: { Name: string }) => r.Name)).toEqual(['app-1.0', 'pi4-2026.10', 'pi4-2026.11']);
    res = await api.get(`${M}/v1/deployments/deployments/releases/list`, { params: { per_page: 2 } });
    expectContract(res);
    expect(res.headers['x-total-count']).toBe('3');
    res = await api.get(`${M}/v2/deployments/deployments/releases`, { params: { name: 'pi4', sort: 'name:desc' } });
    expectContract(res);
    expect(res.data.map((r: { name: string }) => r.name)).toEqual(['pi4-2026.11', 'pi4-2026.10']);
    res = await api.get(`${M}/v2/deployments/deployments/releases/pi4-2026.11`);
    expectContract(res);
    expect(res.data.artifacts[0].device_types_compatible).toEqual(['pi4-v3-arm64']);
    res = await api.get(`${M}/v2/deployments/deployments/releases/none`);
    expectContract(res);
    expect(res.status).toBe(404);
  });
});

describe('deployments', () => {
  // Each test starts from the same deployment of two devices, one of which never polls.
  let depId: string;
  let created: AxiosResponse;
  beforeEach(async () => {
    created = await api.post(`${M}/v1/deployments/deployments`, {
      name: 'canary rollout',
      artifact_name: 'pi4-2026.11',
      devices: [DEV.canary, DEV.offline],
    });
    depId = String(created.headers.location).split('/').pop()!;
  });
  /** Ten simulated hours: the canary device installs, the offline one stays pending. */
  const tenHoursPass = async () => {
    const adv = await client(emu.url, null).post('/__emulator/time', { advance_ms: 10 * HOUR });
    expect(adv.status).toBe(200);
  };

  it('creates a deployment: 201 with Location', async () => {
    expectContract(created);
    expect(created.status).toBe(201);
    expect(created.headers.location).toMatch(/^\/api\/management\/v1\/deployments\/deployments\/[0-9a-f-]{36}$/);
  });

  it('refuses invalid deployments with Mender statuses', async () => {
    const cases: [unknown, number][] = [
      [{ name: 'x', artifact_name: 'does-not-exist', devices: [DEV.canary] }, 422],
      [{ name: 'x', artifact_name: 'pi4-2026.11', devices: [] }, 400],
      [{ name: 'x', artifact_name: 'pi4-2026.11' }, 400],
      [{ name: 'x', artifact_name: 'pi4-2026.11', devices: [DEV.canary], all_devices: true }, 400],
      [{ name: 'x', artifact_name: 7, devices: [DEV.canary] }, 400],
      [{ name: 'canary rollout', artifact_name: 'pi4-2026.11', devices: [DEV.offline, DEV.canary] }, 409],
    ];
    for (const [body, status] of cases) {
      const res = await api.post(`${M}/v1/deployments/deployments`, body);
      expectContract(res);
      expect({ body, status: res.status }).toEqual({ body, status });
    }
    const group = await api.post(`${M}/v1/deployments/deployments/group/empty-group`, { name: 'g', artifact_name: 'pi4-2026.11' });
    expectContract(group);
    expect(group.status).toBe(400);
    expect(group.data.error).toBe('No devices for the deployment');
  });

  it('shows, lists, counts and lists devices of a deployment', async () => {
    let res = await api.get(`${M}/v1/deployments/deployments/${depId}`);
    expectContract(res);
    // deployments app/app.go, CreateDeployment stores the device list only: no device has a
    // record until it polls (getNewDeploymentForDevice), so device_count is 0 and the device
    // lists are empty, while the statistics count both devices as pending from the start.
    expect(res.data).toMatchObject({ id: depId, name: 'canary rollout', artifact_name: 'pi4-2026.11', status: 'pending', device_count: 0, type: 'software' });
    res = await api.get(`${M}/v2/deployments/deployments`, { params: { id: depId } });
    expect(res.data[0]).toMatchObject({ device_count: 0, max_devices: 2 });
    res = await api.get(`${M}/v1/deployments/deployments/${depId}/statistics`);
    expectContract(res);
    expect(res.data).toMatchObject({ pending: 2, success: 0, failure: 0 });
    res = await api.post(`${M}/v1/deployments/deployments/statistics/list`, { deployment_ids: [depId] });
    expectContract(res);
    expect(res.data[0]).toMatchObject({ id: depId, stats: { pending: 2 } });
    res = await api.get(`${M}/v1/deployments/deployments/${depId}/devices`);
    expectContract(res);
    expect(res.data).toEqual([]);
    res = await api.get(`${M}/v1/deployments/deployments/${depId}/devices/list`, { params: { status: 'pending', per_page: 1 } });
    expectContract(res);
    expect(res.headers['x-total-count']).toBe('0');
    // The device list itself is the constructor's (GetDeploymentDeviceList).
    res = await api.get(`${M}/v1/deployments/deployments/${depId}/device_list`);
    expectContract(res);
    expect([...res.data].sort()).toEqual([DEV.canary, DEV.offline].sort());
    res = await api.get(`${M}/v1/deployments/deployments`, { params: { status: 'pending', search: 'canary' } });
    expectContract(res);
    expect(res.headers['x-total-count']).toBe('1');
    res = await api.get(`${M}/v2/deployments/deployments`, { params: { name: 'canary rollout' } });
    expectContract(res);
    expect(res.data[0].id).toBe(depId);
    res = await api.get(`${M}/v1/deployments/deployments`, { params: { status: 'bogus' } });
    expectContract(res);
    expect(res.status).toBe(400);
    for (const url of [
      `${M}/v1/deployments/deployments/00000000-0000-4000-8000-000000000000`,
      `${M}/v1/deployments/deployments/00000000-0000-4000-8000-000000000000/statistics`,
      `${M}/v1/deployments/deployments/00000000-0000-4000-8000-000000000000/devices`,
      `${M}/v1/deployments/deployments/00000000-0000-4000-8000-000000000000/devices/list`,
    ]) {
      res = await api.get(url);
      expectContract(res);
      expect(res.status).toBe(404);
    }
  });

  it('progresses when simulated time passes, and shows device history', async () => {
    await tenHoursPass();
    let res = await api.get(`${M}/v1/deployments/deployments/${depId}/statistics`);
    expect(res.data).toMatchObject({ pending: 1, success: 1 });
    res = await api.get(`${M}/v1/deployments/deployments/${depId}`);
    expect(res.data).toMatchObject({ status: 'inprogress', device_count: 1 });
    res = await api.get(`${M}/v1/deployments/deployments/${depId}/devices/list`);
    expect(res.data.map((d: { id: string; status: string }) => [d.id, d.status])).toEqual([[DEV.canary, 'success']]);
    res = await api.get(`${M}/v1/deployments/deployments/devices/${DEV.canary}`);
    expectContract(res);
    expect(res.data[0]).toMatchObject({ deployment: { id: depId }, device: { id: DEV.canary, status: 'success' } });
    res = await api.get(`${M}/v1/deployments/deployments/devices/${DEV.canary}`, { params: { per_page: 21 } });
    expectContract(res, { specGap: true });
    expect(res.status).toBe(400);
  });

  it('aborts a deployment (204, then 422) and all of a device’s deployments', async () => {
    await tenHoursPass();
    let res = await api.put(`${M}/v1/deployments/deployments/${depId}/status`, { status: 'aborted' });
    expectContract(res);
    expect(res.status).toBe(204);
    // deployments app/app.go, AbortDeployment: the statistics are rebuilt from the records that
    // exist (AggregateDeviceDeploymentByStatus); the offline device never polled, so it counts
    // nowhere: neither pending nor aborted.
    res = await api.get(`${M}/v1/deployments/deployments/${depId}/statistics`);
    expect(res.data).toMatchObject({ pending: 0, success: 1, aborted: 0 });
    res = await api.get(`${M}/v1/deployments/deployments/${depId}`);
    expect(res.data).toMatchObject({ status: 'finished', finished: expect.any(String) });
    res = await api.put(`${M}/v1/deployments/deployments/${depId}/status`, { status: 'aborted' });
    expectContract(res);
    expect(res.status).toBe(422);
    res = await api.put(`${M}/v1/deployments/deployments/${depId}/status`, { status: 'finished' });
    expectContract(res);
    expect(res.status).toBe(400);
    // api/http/api_deployments.go, AbortDeployment: IsDeploymentFinished finds no unfinished
    // deployment with an unknown id either, so the answer is 422, not 404.
    res = await api.put(`${M}/v1/deployments/deployments/00000000-0000-4000-8000-000000000000/status`, { status: 'aborted' });
    expectContract(res);
    expect(res.status).toBe(422);
  });

  it('aborts a device’s deployments as mender-server does: the oldest active and one newer, leaving that one unable to finish', async () => {
    // deployments app/app.go, updateDeviceDeploymentsStatus (DELETE …/deployments/devices/{id}):
    // with no active record, it finds the oldest newer deployment listing the device
    // (FindNewerActiveDeployment) and inserts an aborted record (createDeviceDeploymentWithStatus)
    // without changing the statistics, which still count the device as pending.
    // The block's deployment is out of the way first, so that 'again' is the oldest one.
    expect((await api.put(`${M}/v1/deployments/deployments/${depId}/status`, { status: 'aborted' })).status).toBe(204);
    let res = await api.post(`${M}/v1/deployments/deployments`, { name: 'again', artifact_name: 'pi4-2026.11', devices: [DEV.offline] });
    const again = String(res.headers.location).split('/').pop();
    res = await api.post(`${M}/v1/deployments/deployments`, { name: 'and again', artifact_name: 'pi4-2026.10', devices: [DEV.offline] });
    const andAgain = String(res.headers.location).split('/').pop();
    res = await api.delete(`${M}/v1/deployments/deployments/devices/${DEV.offline}`);
    expectContract(res);
    expect(res.status).toBe(204);
    res = await api.get(`${M}/v1/deployments/deployments/${again}`);
    expect(res.data).toMatchObject({ status: 'pending', device_count: 1, statistics: { status: { pending: 1, aborted: 0 } } });
    res = await api.get(`${M}/v1/deployments/deployments/${again}/devices/list`);
    expect(res.data.map((d: { id: string; status: string }) => [d.id, d.status])).toEqual([[DEV.offline, 'aborted']]);
    // Only one deployment per call: the newer one is untouched until a second DELETE.
    res = await api.get(`${M}/v1/deployments/deployments/${andAgain}`);
    expect(res.data).toMatchObject({ status: 'pending', device_count: 0 });
    await api.delete(`${M}/v1/deployments/deployments/devices/${DEV.offline}`);
    res = await api.get(`${M}/v1/deployments/deployments/${andAgain}/devices/list`);
    expect(res.data.map((d: { status: string }) => d.status)).toEqual(['aborted']);
    // The device's history shows both as aborted, newest first.
    res = await api.get(`${M}/v1/deployments/deployments/devices/${DEV.offline}`);
    expect(res.data.slice(0, 2).map((h: { deployment: { id: string }; device: { status: string } }) => [h.deployment.id, h.device.status])).toEqual([
      [andAgain, 'aborted'],
      [again, 'aborted'],
    ]);
    // The stuck deployment finishes only when aborted as a whole, with its statistics rebuilt.
    res = await api.put(`${M}/v1/deployments/deployments/${again}/status`, { status: 'aborted' });
    expect(res.status).toBe(204);
    res = await api.get(`${M}/v1/deployments/deployments/${again}`);
    expect(res.data).toMatchObject({ status: 'finished', statistics: { status: { pending: 0, aborted: 1 } } });
    await api.put(`${M}/v1/deployments/deployments/${andAgain}/status`, { status: 'aborted' });
    res = await api.delete(`${M}/v1/deployments/deployments/devices/${DEV.offline}/history`);
    expectContract(res);
    expect(res.status).toBe(204);
    res = await api.get(`${M}/v1/deployments/deployments/devices/${DEV.offline}`);
    expect(res.data).toEqual([]);
  });

  it('deploys to a group and to all devices', async () => {
    await api.put(`${M}/v1/inventory/devices/${DEV.upToDate}/group`, { group: 'fleet-a' });
    let res = await api.post(`${M}/v1/deployments/deployments/group/fleet-a`, { name: 'group', artifact_name: 'pi4-2026.11' });
    expectContract(res);
    expect(res.status).toBe(201);
    const groupDep = String(res.headers.location).split('/').pop();
    res = await api.get(`${M}/v2/deployments/deployments`, { params: { id: groupDep } });
    expect(res.data[0]).toMatchObject({ groups: ['fleet-a'], device_count: 0, max_devices: 1 });
    res = await api.post(`${M}/v1/deployments/deployments`, { name: 'everyone', artifact_name: 'pi4-2026.11', all_devices: true, force_installation: true });
    expectContract(res);
    const all = String(res.headers.location).split('/').pop();
    res = await api.get(`${M}/v2/deployments/deployments`, { params: { id: all } });
    expect(res.data[0]).toMatchObject({ device_count: 0, max_devices: 6 });
  });

  it('refuses to delete an artifact used by an active deployment (409)', async () => {
    await upload('app-1.0', ['pi4-v3-arm64'], 'unused');
    const art = (await api.get(`${M}/v1/deployments/artifacts`, { params: { name: 'pi4-2026.11' } })).data[0];
    const res = await api.delete(`${M}/v1/deployments/artifacts/${art.id}`);
    expectContract(res);
    expect(res.status).toBe(409);
    const app = (await api.get(`${M}/v1/deployments/artifacts`, { params: { name: 'app-1.0' } })).data[0];
    const ok = await api.delete(`${M}/v1/deployments/artifacts/${app.id}`);
    expectContract(ok);
    expect(ok.status).toBe(204);
  });
});

describe('deviceconfig', () => {
  it('sets, gets and deploys a configuration', async () => {
    let res = await api.put(`${M}/v1/deviceconfig/configurations/device/${DEV.canary}`, { timezone: 'UTC', ntp: 'pool.ntp.org' });
    expectContract(res);
    expect(res.status).toBe(204);
    res = await api.get(`${M}/v1/deviceconfig/configurations/device/${DEV.canary}`);
    expectContract(res);
    expect(res.data).toMatchObject({ id: DEV.canary, configured: { timezone: 'UTC', ntp: 'pool.ntp.org' }, reported: {} });
    res = await api.post(`${M}/v1/deviceconfig/configurations/device/${DEV.canary}/deploy`, { retries: 0 });
    expectContract(res);
    expect(res.status).toBe(200);
    // deviceconfig app/app.go, DeployConfiguration publishes the deploy_device_configuration
    // workflow and answers; the deployment exists once the worker has created it.
    const depUrl = `${M}/v1/deployments/deployments/${res.data.deployment_id}`;
    const early = await api.get(depUrl);
    expectContract(early);
    expect(early.status).toBe(404);
    await client(emu.url, null).post('/__emulator/time', { advance_ms: HOUR });
    const dep = await api.get(depUrl);
    expectContract(dep);
    expect(dep.data).toMatchObject({ type: 'configuration', device_count: 0, status: 'pending' });
  });

  it('rejects bad configurations and unknown devices', async () => {
    let res = await api.put(`${M}/v1/deviceconfig/configurations/device/${DEV.canary}`, { timezone: 5 });
    expectContract(res);
    expect(res.status).toBe(400);
    res = await api.put(`${M}/v1/deviceconfig/configurations/device/${DEV.canary}`, ['a']);
    expectContract(res);
    expect(res.status).toBe(400);
    const unknown = '00000000-0000-4000-8000-000000000000';
    res = await api.get(`${M}/v1/deviceconfig/configurations/device/${unknown}`);
    expectContract(res);
    expect(res.status).toBe(404);
    res = await api.post(`${M}/v1/deviceconfig/configurations/device/${unknown}/deploy`, {});
    expectContract(res);
    expect(res.status).toBe(404);
    res = await api.post(`${M}/v1/deviceconfig/configurations/device/${DEV.canary}/deploy`, { retries: 'twice' });
    expectContract(res);
    expect(res.status).toBe(400);
  });
});

/** The auth request a mender client sends: signed with the device's key (see device-auth.ts). */
async function deviceAuth(identity: Record<string, unknown>): Promise<AxiosResponse> {
  const { body, headers } = signedAuthRequest(identity, deviceKey());
  return client(emu.url, null).post('/api/devices/v1/authentication/auth_requests', body, { headers });
}

describe('device API', () => {
  // Each test authenticates the device afresh (its identity: the mac in its inventory).
  let token: string;
  let auth: AxiosResponse;
  const dapi = (): AxiosInstance => client(emu.url, token);
  beforeEach(async () => {
    const inv = await api.get(`${M}/v1/inventory/devices/${DEV.rejecting}`);
    const mac = inv.data.attributes.find((a: { name: string }) => a.name === 'mac').value;
    auth = await deviceAuth({ mac });
    token = String(auth.data);
  });

  it('authenticates an accepted device by its identity', async () => {
    const res = auth;
    expectContract(res);
    expect(res.status).toBe(200);
    const unknown = await deviceAuth({ mac: 'ff:ff:ff:ff:ff:ff' });
    expectContract(unknown);
    expect(unknown.status).toBe(401);
    const management = await client(emu.url, token).get(`${M}/v1/inventory/devices`);
    expect(management.status).toBe(401);
  });

  // The mender 3.4 client POSTs deployments/next (after v2, which mender-server answers 404).
  // GetDeploymentForDevice (deployments api/http/api_deployments.go) takes the POST, its body an
  // InstalledDeviceDeployment (model/device_deployment.go; artifact_name and device_type
  // required). The spec lists only GET, so the body is checked against its schema.
  it('answers deployments/next by POST as by GET', async () => {
    const url = '/api/devices/v1/deployments/device/deployments/next';
    const idle = await dapi().post(url, { artifact_name: 'pi4-2026.10', device_type: 'pi4-v3-arm64', artifact_provides: { 'rootfs-image.version': 'pi4-2026.10' } });
    expect(idle.status).toBe(204);
    await api.post(`${M}/v1/deployments/deployments`, { name: 'by hand', artifact_name: 'pi4-2026.11', devices: [DEV.rejecting] });
    const next = await dapi().post(url, { artifact_name: 'pi4-2026.10', device_type: 'pi4-v3-arm64' });
    expect(next.status).toBe(200);
    expect(next.data).toSatisfySchemaInApiSpec('DeploymentInstructions');
    expect(next.data.artifact).toMatchObject({ artifact_name: 'pi4-2026.11' });
    const invalid = await dapi().post(url, { artifact_name: 'pi4-2026.10' });
    expect(invalid.status).toBe(400);
    expect(invalid.data).toSatisfySchemaInApiSpec('Error');
    expect((await client(emu.url, null).post(url, { artifact_name: 'a', device_type: 'b' })).status).toBe(401);
  });

  it('drives a deployment like a real Mender client', async () => {
    await api.post(`${M}/v1/deployments/deployments`, { name: 'everyone', artifact_name: 'pi4-2026.11', all_devices: true, force_installation: true });
    const created = await api.post(`${M}/v1/deployments/deployments`, { name: 'by hand', artifact_name: 'pi4-2026.11', devices: [DEV.rejecting] });
    const depId = String(created.headers.location).split('/').pop();
    // The device's oldest unfinished deployment is the all-devices one.
    let next = await dapi().get('/api/devices/v1/deployments/device/deployments/next', {
      params: { artifact_name: 'pi4-2026.10', device_type: 'pi4-v3-arm64' },
    });
    expectContract(next);
    expect(next.status).toBe(200);
    expect(next.data.artifact).toMatchObject({ artifact_name: 'pi4-2026.11', device_types_compatible: ['pi4-v3-arm64'] });
    const first = next.data.id as string;
    for (const status of ['downloading', 'installing', 'rebooting', 'success']) {
      const res = await dapi().put(`/api/devices/v1/deployments/device/deployments/${first}/status`, { status });
      expectContract(res);
      expect(res.status).toBe(204);
    }
    let res = await dapi().put(`/api/devices/v1/deployments/device/deployments/${first}/log`, {
      messages: [{ timestamp: new Date().toISOString(), level: 'info', message: 'installed' }],
    });
    expectContract(res);
    expect(res.status).toBe(204);
    res = await api.get(`${M}/v1/deployments/deployments/${first}/devices/${DEV.rejecting}/log`);
    expectContract(res);
    expect(res.data).toContain('installed');
    res = await dapi().patch('/api/devices/v1/inventory/device/attributes', [
      { name: 'artifact_name', value: 'pi4-2026.11' },
      { name: 'rootfs-image.version', value: 'pi4-2026.11' },
    ]);
    expectContract(res);
    expect(res.status).toBe(200);
    // Next: the explicit deployment; the device already runs that artifact.
    next = await dapi().get('/api/devices/v1/deployments/device/deployments/next', {
      params: { artifact_name: 'pi4-2026.11', device_type: 'pi4-v3-arm64' },
    });
    expectContract(next);
    expect(next.status).toBe(204);
    res = await api.get(`${M}/v1/deployments/deployments/${depId}/statistics`);
    expect(res.data['already-installed']).toBe(1);
    res = await dapi().get('/api/devices/v1/deployments/device/deployments/next', { params: { device_type: 'pi4-v3-arm64' } });
    expectContract(res);
    expect(res.status).toBe(400);
    res = await dapi().put(`/api/devices/v1/deployments/device/deployments/${depId}/status`, { status: 'exploded' });
    expectContract(res);
    expect(res.status).toBe(400);
    res = await dapi().put('/api/devices/v1/deployments/device/deployments/00000000-0000-4000-8000-000000000000/status', { status: 'success' });
    expectContract(res);
    expect(res.status).toBe(404);
  });

  it('reads and reports configuration', async () => {
    await api.put(`${M}/v1/deviceconfig/configurations/device/${DEV.rejecting}`, { mode: 'kiosk' });
    let res = await dapi().get('/api/devices/v1/deviceconfig/configuration');
    expectContract(res);
    expect(res.data).toEqual({ mode: 'kiosk' });
    res = await dapi().put('/api/devices/v1/deviceconfig/configuration', { mode: 'kiosk' });
    expectContract(res);
    expect(res.status).toBe(204);
    res = await api.get(`${M}/v1/deviceconfig/configurations/device/${DEV.rejecting}`);
    expect(res.data.reported).toEqual({ mode: 'kiosk' });
  });
});
