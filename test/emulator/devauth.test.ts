// deviceauth: a device's auth requests and the management API v2, every response checked
// against Mender's OpenAPI spec. Each test cites the mender-server source it follows
// (backend/services/deviceauth, commit f954ef50).
import { AxiosInstance, AxiosResponse } from 'axios';
import { RunningEmulator, startEmulator } from '../../emulator';
import { DeviceKey, deviceKey, signBody, signedAuthRequest } from '../helpers/device-auth';
import { client, DEV, expectContract, testWorld } from './support';

const V2 = '/api/management/v2/devauth';
const HOUR = 3600 * 1000;

let emu: RunningEmulator;
let api: AxiosInstance;

beforeEach(async () => {
  emu = await startEmulator({ world: testWorld(), timing: { pollIntervalMs: HOUR, stepMs: HOUR, workflowDelayMs: HOUR } });
  api = client(emu.url);
});
afterEach(async () => {
  await emu.close();
});

async function authRequest(identity: Record<string, unknown>, key: DeviceKey): Promise<AxiosResponse> {
  const { body, headers } = signedAuthRequest(identity, key);
  return client(emu.url, null).post('/api/devices/v1/authentication/auth_requests', body, { headers });
}

interface ApiAuthSet {
  id: string;
  identity_data: Record<string, unknown>;
  pubkey: string;
  status: string;
}
interface ApiDevice {
  id: string;
  identity_data: Record<string, unknown>;
  status: string;
  decommissioning: boolean;
  auth_sets: ApiAuthSet[];
}

async function devicesWith(status: string): Promise<ApiDevice[]> {
  const res = await api.get(`${V2}/devices`, { params: { status } });
  expectContract(res);
  expect(res.status).toBe(200);
  return res.data as ApiDevice[];
}

async function count(status?: string): Promise<number> {
  const res = await api.get(`${V2}/devices/count`, { params: status ? { status } : {} });
  expectContract(res);
  expect(res.status).toBe(200);
  return (res.data as { count: number }).count;
}

async function setStatus(deviceId: string, authSetId: string, status: string): Promise<AxiosResponse> {
  const res = await api.put(`${V2}/devices/${deviceId}/auth/${authSetId}/status`, { status });
  expectContract(res);
  return res;
}

const nextDeployment = (token: string): Promise<AxiosResponse> =>
  client(emu.url, token).get('/api/devices/v1/deployments/device/deployments/next', {
    params: { artifact_name: 'demo-1.0', device_type: 'qemux86-64' },
  });

describe('a device the server does not know', () => {
  // devauth.go SubmitAuthRequest → processAuthRequest → getDeviceFromAuthRequest: the device is
  // recorded with a pending auth set, and without an accepted set there is no token (401).
  it('is recorded as pending on its first auth request, and gets 401 until accepted', async () => {
    const key = deviceKey();
    const identity = { mac: '52:54:00:aa:bb:cc' };
    const first = await authRequest(identity, key);
    expectContract(first);
    expect(first.status).toBe(401);
    const pending = await devicesWith('pending');
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({
      identity_data: identity,
      status: 'pending',
      decommissioning: false,
      auth_sets: [{ identity_data: identity, pubkey: key.publicPem, status: 'pending' }],
    });
    expect(await count('pending')).toBe(1);
    expect(await count('accepted')).toBe(testWorld().devices.length);
    expect(await count()).toBe(testWorld().devices.length + 1);
    // The same request again finds the same device and set (AddAuthSet → ErrObjectExists).
    expect((await authRequest(identity, key)).status).toBe(401);
    expect(await devicesWith('pending')).toHaveLength(1);
    // setDeviceIdentity and update_device_status: inventory holds it, identity and status.
    const inv = await api.get(`/api/management/v1/inventory/devices/${pending[0].id}`);
    expect(inv.status).toBe(200);
    expect(inv.data.attributes).toEqual(
      expect.arrayContaining([
        { name: 'mac', value: identity.mac, scope: 'identity' },
        { name: 'status', value: 'pending', scope: 'identity' },
      ]),
    );
  });

  // SetAuthSetStatus (devauth.go), UpdateDeviceStatusHandler (api/http/api_devauth.go): 204; the
  // next auth request gets a token (SubmitAuthRequest: authSet.Status == accepted).
  it('gets a token once a person accepts its auth set, and loses it when rejected', async () => {
    const key = deviceKey();
    const identity = { mac: '52:54:00:00:00:01', serial: 'SN-1' };
    await authRequest(identity, key);
    const [device] = await devicesWith('pending');
    const accepted = await setStatus(device.id, device.auth_sets[0].id, 'accepted');
    expect(accepted.status).toBe(204);
    const auth = await authRequest(identity, key);
    expectContract(auth);
    expect(auth.status).toBe(200);
    expect(String(auth.headers['content-type'])).toMatch(/^application\/jwt/);
    const token = String(auth.data);
    expect((await nextDeployment(token)).status).toBe(204);
    const got = await api.get(`${V2}/devices/${device.id}`);
    expectContract(got);
    expect(got.data).toMatchObject({ id: device.id, status: 'accepted', auth_sets: [{ status: 'accepted' }], check_in_time: expect.any(String) });
    const setStatusRes = await api.get(`${V2}/devices/${device.id}/auth/${device.auth_sets[0].id}/status`);
    expectContract(setStatusRes);
    expect(setStatusRes.data).toEqual({ status: 'accepted' });

    // updateAuthSetStatus: leaving accepted deletes the device's tokens (DeleteTokenByDevId).
    expect((await setStatus(device.id, device.auth_sets[0].id, 'rejected')).status).toBe(204);
    expect((await nextDeployment(token)).status).toBe(401);
    expect((await authRequest(identity, key)).status).toBe(401);
    expect((await devicesWith('rejected')).map((d) => d.id)).toEqual([device.id]);
    // rejected → accepted is a valid transition (model/device.go ValidateStatusTransition).
    expect((await setStatus(device.id, device.auth_sets[0].id, 'accepted')).status).toBe(204);
    // The old token stays revoked: the device must ask again.
    expect((await nextDeployment(token)).status).toBe(401);
    expect((await authRequest(identity, key)).status).toBe(200);
  });

  // ValidateStatusTransition and UpdateDeviceStatusHandler's error mapping: a bad transition or a
  // set of another device is 400, an unknown set 404, a status other than accepted, rejected or
  // pending 400 (statusValidate).
  it('refuses invalid status changes', async () => {
    const key = deviceKey();
    await authRequest({ mac: '52:54:00:00:00:02' }, key);
    const [device] = await devicesWith('pending');
    const aid = device.auth_sets[0].id;
    expect((await setStatus(device.id, aid, 'preauthorized')).status).toBe(400);
    expect((await setStatus(device.id, aid, 'bogus')).status).toBe(400);
    expect((await setStatus(DEV.canary, aid, 'accepted')).status).toBe(400);
    expect((await setStatus(device.id, '5f1b2c3d-0000-4000-8000-00000000abcd', 'accepted')).status).toBe(404);
    // The same status again is a no-op (SetAuthSetStatus: aset.Status == status).
    expect((await setStatus(device.id, aid, 'pending')).status).toBe(204);
  });

  // AuthReq.Validate sorts id_data (utils.JsonSort) before it is hashed, so key order does not
  // make a new device.
  it('is the same device whatever the order of its identity attributes', async () => {
    const key = deviceKey();
    await authRequest({ mac: '52:54:00:00:00:03', sku: 'A' }, key);
    await authRequest({ sku: 'A', mac: '52:54:00:00:00:03' }, key);
    expect(await devicesWith('pending')).toHaveLength(1);
  });

  // utils.ParsePubKey / VerifyAuthReqSign: RSA, ECDSA P-256 and Ed25519 keys are accepted.
  it('authenticates with RSA, ECDSA and Ed25519 keys', async () => {
    for (const type of ['rsa', 'ec', 'ed25519'] as const) {
      const key = deviceKey(type);
      const identity = { mac: `52:54:00:00:01:0${type.length}` };
      expect((await authRequest(identity, key)).status).toBe(401);
      const device = (await devicesWith('pending')).find((d) => d.identity_data.mac === identity.mac)!;
      await setStatus(device.id, device.auth_sets[0].id, 'accepted');
      expect({ type, status: (await authRequest(identity, key)).status }).toEqual({ type, status: 200 });
    }
  });
});

// SubmitAuthRequestHandler (api/http/api_devauth.go): a body that is not an AuthReq or a bad key
// is 400, a missing X-MEN-Signature 400, a signature that does not verify 401.
describe('the auth request itself', () => {
  it('is refused without a valid signature, key or identity', async () => {
    const key = deviceKey();
    const { body, headers } = signedAuthRequest({ mac: '52:54:00:00:00:04' }, key);
    const post = (b: string, h: Record<string, string>) => client(emu.url, null).post('/api/devices/v1/authentication/auth_requests', b, { headers: h });
    const noSignature = await post(body, { 'content-type': 'application/json' });
    expectContract(noSignature);
    expect(noSignature.status).toBe(400);
    expect(noSignature.data.error).toBe('missing request signature header');
    const forged = await post(body, { ...headers, 'x-men-signature': signBody(deviceKey(), body) });
    expectContract(forged);
    expect(forged.status).toBe(401);
    // A body changed after signing fails verification too.
    const changed = await post(body.replace('00:04', '00:05'), headers);
    expect(changed.status).toBe(401);
    const badKey = JSON.stringify({ id_data: '{"mac":"x"}', pubkey: 'not a key' });
    const badKeyRes = await post(badKey, { 'content-type': 'application/json', 'x-men-signature': signBody(key, badKey) });
    expectContract(badKeyRes);
    expect(badKeyRes.status).toBe(400);
    const notJsonIdentity = JSON.stringify({ id_data: 'mac=x', pubkey: key.publicPem });
    const notJsonRes = await post(notJsonIdentity, { 'content-type': 'application/json', 'x-men-signature': signBody(key, notJsonIdentity) });
    expectContract(notJsonRes);
    expect(notJsonRes.status).toBe(400);
    expect(await devicesWith('pending')).toEqual([]);
  });
});

describe('preauthorization', () => {
  // PreauthorizeDevice (devauth.go), PostDevicesV2Handler: 201 with Location devices/<id>; the
  // device's first auth request with that identity and key is accepted at once
  // (processPreAuthRequest → handlePreAuthDevice).
  it('accepts the preauthorized identity and key on its first request, and no other key', async () => {
    const key = deviceKey();
    const identity = { mac: '52:54:00:00:00:10', sn: 'SN-10' };
    const created = await api.post(`${V2}/devices`, { identity_data: identity, pubkey: key.publicPem });
    expectContract(created);
    expect(created.status).toBe(201);
    const id = String(created.headers.location).replace(/^devices\//, '');
    const [pre] = await devicesWith('preauthorized');
    expect(pre).toMatchObject({ id, identity_data: identity, status: 'preauthorized', auth_sets: [{ status: 'preauthorized' }] });
    expect(await count('preauthorized')).toBe(1);

    // Another key with the same identity is an ordinary request: a pending set, 401; the
    // device stays preauthorized (DeviceStatusFromAuthSetStatuses: preauthorized outweighs pending).
    expect((await authRequest(identity, deviceKey())).status).toBe(401);
    expect((await api.get(`${V2}/devices/${id}`)).data).toMatchObject({ status: 'preauthorized', auth_sets: [{ status: 'preauthorized' }, { status: 'pending' }] });

    const auth = await authRequest(identity, key);
    expect(auth.status).toBe(200);
    expect((await nextDeployment(String(auth.data))).status).toBe(204);
    expect((await api.get(`${V2}/devices/${id}`)).data).toMatchObject({ status: 'accepted', auth_sets: [{ status: 'accepted' }, { status: 'pending' }] });
  });

  // PostDevicesV2Handler: ErrDeviceExists is 409 with the conflicting device as the body.
  it('answers 409 with the device when the identity is known, and 400 without identity or key', async () => {
    const key = deviceKey();
    const identity = { mac: '52:54:00:00:00:11' };
    expect((await api.post(`${V2}/devices`, { identity_data: identity, pubkey: key.publicPem })).status).toBe(201);
    const again = await api.post(`${V2}/devices`, { identity_data: identity, pubkey: key.publicPem });
    expect(again).toSatisfyApiSpec();
    expect(again.status).toBe(409);
    expect(again.data).toMatchObject({ identity_data: identity, status: 'preauthorized' });
    for (const body of [{ pubkey: key.publicPem }, { identity_data: identity }, { identity_data: identity, pubkey: 'nope' }]) {
      const res = await api.post(`${V2}/devices`, body);
      expectContract(res);
      expect(res.status).toBe(400);
    }
  });
});

describe('world devices', () => {
  // A world device is accepted; its set has no key until a device with its identity presents
  // one (the emulator's stand-in for an operator having accepted it). A second key is a new
  // pending set of the same device (processAuthRequest), which stays accepted.
  it('are accepted, take the first key presented, and record a second key as pending', async () => {
    const inv = await api.get(`/api/management/v1/inventory/devices/${DEV.canary}`);
    const mac = inv.data.attributes.find((a: { name: string }) => a.name === 'mac').value as string;
    const world = await api.get(`${V2}/devices/${DEV.canary}`);
    expectContract(world);
    expect(world.data).toMatchObject({ id: DEV.canary, identity_data: { mac }, status: 'accepted', auth_sets: [{ status: 'accepted', pubkey: '' }] });
    const key = deviceKey();
    const auth = await authRequest({ mac }, key);
    expect(auth.status).toBe(200);
    expect((await api.get(`${V2}/devices/${DEV.canary}`)).data.auth_sets).toEqual([expect.objectContaining({ status: 'accepted', pubkey: key.publicPem })]);

    const other = deviceKey();
    expect((await authRequest({ mac }, other)).status).toBe(401);
    const sets = (await api.get(`${V2}/devices/${DEV.canary}`)).data.auth_sets as ApiAuthSet[];
    expect(sets.map((s) => s.status)).toEqual(['accepted', 'pending']);
    // Accepting the new key rejects the old set and its token (updateAuthSetStatus:
    // RejectAuthSetsForDevice).
    expect((await setStatus(DEV.canary, sets[1].id, 'accepted')).status).toBe(204);
    expect((await nextDeployment(String(auth.data))).status).toBe(401);
    const after = (await api.get(`${V2}/devices/${DEV.canary}`)).data.auth_sets as ApiAuthSet[];
    expect(after.map((s) => s.status)).toEqual(['rejected', 'accepted']);
    expect((await authRequest({ mac }, other)).status).toBe(200);
  });

  it('list with paging and filters as GetDevicesV2Handler and SearchDevicesV2Handler do', async () => {
    const page = await api.get(`${V2}/devices`, { params: { per_page: 2 } });
    expectContract(page);
    expect(page.data).toHaveLength(2);
    expect(String(page.headers.link)).toContain('rel="next"');
    // The id filter repeated (form values), not axios's id[]=.
    const byId = await api.get(`${V2}/devices?id=${DEV.canary}&id=${DEV.offline}`);
    expectContract(byId);
    expect((byId.data as ApiDevice[]).map((d) => d.id).sort()).toEqual([DEV.canary, DEV.offline].sort());
    const search = await api.post(`${V2}/devices/search`, { status: 'accepted', id: DEV.failing });
    expectContract(search);
    expect((search.data as ApiDevice[]).map((d) => d.id)).toEqual([DEV.failing]);
    // DeviceFilter.Validate, ParsePagingParameters, GetDevicesCountHandler: 400s.
    for (const res of [
      await api.get(`${V2}/devices`, { params: { status: 'asleep' } }),
      await api.get(`${V2}/devices`, { params: { per_page: 501 } }),
      await api.get(`${V2}/devices/count`, { params: { status: 'asleep' } }),
    ]) {
      expectContract(res);
      expect(res.status).toBe(400);
    }
    const missing = await api.get(`${V2}/devices/5f1b2c3d-0000-4000-8000-00000000abcd`);
    expectContract(missing);
    expect(missing.status).toBe(404);
  });
});

describe('decommissioning', () => {
  // DecommissionDevice (devauth.go) and the decommission_device workflow: the device leaves
  // deviceauth, inventory and deviceconfig, its deployments become `decommissioned`
  // (deployments app/app.go DecommissionDevice), its token is void.
  it('removes the device everywhere and voids its token', async () => {
    const inv = await api.get(`/api/management/v1/inventory/devices/${DEV.canary}`);
    const mac = inv.data.attributes.find((a: { name: string }) => a.name === 'mac').value as string;
    const token = String((await authRequest({ mac }, deviceKey())).data);
    const dep = await api.post('/api/management/v1/deployments/deployments', { name: 'to canary', artifact_name: 'pi4-2026.11', devices: [DEV.canary] });
    const depId = String(dep.headers.location).split('/').pop();
    const before = await count();

    const res = await api.delete(`${V2}/devices/${DEV.canary}`);
    expectContract(res);
    expect(res.status).toBe(204);
    expect(await count()).toBe(before - 1);
    expect((await api.get(`${V2}/devices/${DEV.canary}`)).status).toBe(404);
    expect((await api.get(`/api/management/v1/inventory/devices/${DEV.canary}`)).status).toBe(404);
    expect((await api.get(`/api/management/v1/deviceconfig/configurations/device/${DEV.canary}`)).status).toBe(404);
    expect((await nextDeployment(token)).status).toBe(401);
    const devices = await api.get(`/api/management/v1/deployments/deployments/${depId}/devices`);
    expect(devices.data).toEqual([expect.objectContaining({ id: DEV.canary, status: 'decommissioned' })]);

    // DecommissionDeviceHandler: ErrDevNotFound is a bare 404 (c.Status, no error body), which
    // the spec's NotFound response does not describe.
    const again = await api.delete(`${V2}/devices/${DEV.canary}`);
    expect(again.status).toBe(404);
    expect(again.data).toBe('');
  });
});

describe('dismissing an auth set', () => {
  // DeleteAuthSet (devauth.go), DeleteDeviceAuthSetHandler: an accepted set's removal takes the
  // token with it and the device falls back to what its other sets say; a device whose only
  // set was preauthorized is deleted (deletePreauthDevice); an unknown set is a bare 404.
  it('removes the set, its token, and a preauthorized device left with nothing', async () => {
    const key = deviceKey();
    const identity = { mac: '52:54:00:00:00:20' };
    await authRequest(identity, key);
    const [device] = await devicesWith('pending');
    await setStatus(device.id, device.auth_sets[0].id, 'accepted');
    const token = String((await authRequest(identity, key)).data);
    const other = deviceKey();
    expect((await authRequest(identity, other)).status).toBe(401);
    const sets = (await api.get(`${V2}/devices/${device.id}`)).data.auth_sets as ApiAuthSet[];
    expect(sets.map((s) => s.status)).toEqual(['accepted', 'pending']);

    const res = await api.delete(`${V2}/devices/${device.id}/auth/${sets[0].id}`);
    expectContract(res);
    expect(res.status).toBe(204);
    expect((await nextDeployment(token)).status).toBe(401);
    expect((await api.get(`${V2}/devices/${device.id}`)).data).toMatchObject({ status: 'pending', auth_sets: [{ id: sets[1].id, status: 'pending' }] });

    const pre = await api.post(`${V2}/devices`, { identity_data: { mac: '52:54:00:00:00:21' }, pubkey: deviceKey().publicPem });
    const preId = String(pre.headers.location).replace(/^devices\//, '');
    const preSet = (await api.get(`${V2}/devices/${preId}`)).data.auth_sets[0] as ApiAuthSet;
    expect((await api.delete(`${V2}/devices/${preId}/auth/${preSet.id}`)).status).toBe(204);
    expect((await api.get(`${V2}/devices/${preId}`)).status).toBe(404);
    expect((await api.get(`/api/management/v1/inventory/devices/${preId}`)).status).toBe(404);

    const missing = await api.delete(`${V2}/devices/${preId}/auth/${preSet.id}`);
    expect(missing.status).toBe(404);
    expect(missing.data).toBe('');
  });
});

describe('who plays a device', () => {
  // Not mender-server behaviour but the emulator's own line: a device deviceauth recorded is a
  // real client's, so the simulation, which plays world devices, leaves it alone.
  it('does not simulate a device deviceauth recorded', async () => {
    const fast = await startEmulator({ world: testWorld() });
    try {
      const fastApi = client(fast.url);
      const key = deviceKey();
      const pre = await fastApi.post(`${V2}/devices`, { identity_data: { mac: '52:54:00:00:00:30', device: 'real' }, pubkey: key.publicPem });
      const id = String(pre.headers.location).replace(/^devices\//, '');
      const dep = await fastApi.post('/api/management/v1/deployments/deployments', { name: 'to a real client', artifact_name: 'pi4-2026.11', devices: [id, DEV.canary] });
      const depId = String(dep.headers.location).split('/').pop();
      // The world device finishes; the recorded one never polls.
      for (let i = 0; i < 200; i++) {
        const devices = (await fastApi.get(`/api/management/v1/deployments/deployments/${depId}/devices`)).data as { id: string; status: string }[];
        if (devices.find((d) => d.id === DEV.canary)?.status === 'success') break;
        await new Promise((r) => setTimeout(r, 25));
      }
      const devices = (await fastApi.get(`/api/management/v1/deployments/deployments/${depId}/devices`)).data as { id: string; status: string }[];
      expect(devices).toEqual([expect.objectContaining({ id: DEV.canary, status: 'success' })]);
      expect((await fastApi.get(`/api/management/v1/deployments/deployments/${depId}`)).data.statistics.status).toMatchObject({ pending: 1, success: 1 });
    } finally {
      await fast.close();
    }
  });
});
