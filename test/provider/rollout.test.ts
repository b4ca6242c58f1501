// watchRollout's error when failures pass the allowed ratio: it says "aborted" only when the
// abort took. mender-server answers the abort of a finished deployment with 422
// (AbortDeployment, deployments api/http/api_deployments.go: ErrDeploymentAlreadyFinished).
import { EmulatorHandle, emulatorFor } from '../helpers/emulator';
import { createMenderClient, MenderClient } from '../../provider/mender';
import { RolloutError, watchRollout } from '../../provider/rollout';

const TOKEN = 'rollout-test-token-7d1f';
const PI4 = 'raspberrypi4';
const FAILS = '00000001-aaaa-4bbb-8ccc-000000000001';
const SLOW = '00000001-aaaa-4bbb-8ccc-000000000002';
const FAST = '00000001-aaaa-4bbb-8ccc-000000000003';
const DEPLOYMENTS = '/api/management/v1/deployments/deployments';

let h: EmulatorHandle;
let client: MenderClient;

beforeEach(async () => {
  h = await emulatorFor(
    {
      artifacts: [{ name: 'os-2.0', device_types: [PI4] }],
      devices: [
        { id: FAILS, device_type: PI4, artifact_name: 'os-1.0', behavior: { fail_install: ['os-2.0'] } },
        { id: SLOW, device_type: PI4, artifact_name: 'os-1.0', behavior: { slow: true } },
        { id: FAST, device_type: PI4, artifact_name: 'os-1.0' },
      ],
      tokens: [TOKEN],
      users: [],
    },
    TOKEN,
  );
  client = createMenderClient({ serverUrl: h.emulator.url, token: TOKEN, baseDelayMs: 5, maxDelayMs: 40 });
});
afterEach(async () => {
  await h.emulator.close();
});

async function deploy(devices: string[]): Promise<string> {
  const res = await fetch(`${h.emulator.url}${DEPLOYMENTS}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify({ name: 'os-2.0 rollout', artifact_name: 'os-2.0', devices }),
  });
  expect(res.status).toBe(201);
  return String(res.headers.get('location')).split('/').pop()!;
}

async function rolloutError(id: string, devices: number): Promise<RolloutError> {
  const error = await watchRollout(client, id, devices, { maxFailureRatio: 0, pollSeconds: 0.01, timeoutSeconds: 20 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RolloutError);
  return error as RolloutError;
}

it('says the deployment was aborted when the abort took', async () => {
  const id = await deploy([FAILS, SLOW]);
  const error = await rolloutError(id, 2);
  expect(error.message).toMatch(new RegExp(`^deployment ${id} of 2 device\\(s\\) was aborted: 1 failed, above the allowed ratio 0`));
  expect(error.result).toMatchObject({ status: 'aborted', failedDevices: [FAILS] });
});

it('says it finished with N failed when the server answers the abort with 422', async () => {
  const id = await deploy([FAILS, SLOW]);
  // The abort reaches the server only after the slow device has finished too, so the real
  // handler answers 422 (the emulator's fault delays the request, then lets it through).
  await h.admin('POST', '/faults', { method: 'PUT', path: `${DEPLOYMENTS}/${id}/status$`, delay_ms: 3000 });
  const error = await rolloutError(id, 2);
  expect((await h.requests()).find((r) => r.method === 'PUT' && r.path === `${DEPLOYMENTS}/${id}/status`)?.status).toBe(422);
  expect(error.message).toMatch(new RegExp(`^deployment ${id} of 2 device\\(s\\) finished with 1 failed, above the allowed ratio 0, before it could be aborted; failed devices: ${FAILS}`));
  expect(error.message).not.toMatch(/was aborted/);
  expect(error.result).toMatchObject({ status: 'finished', statistics: { failure: 1, success: 1 }, failedDevices: [FAILS] });
});

it('says it finished with N failed, and sends no abort, when it had finished already', async () => {
  const id = await deploy([FAILS, FAST]);
  for (;;) {
    if ((await client.getDeployment(id)).status === 'finished') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await h.clearRequests();
  const error = await rolloutError(id, 2);
  expect(error.message).toMatch(/finished with 1 failed, above the allowed ratio 0, before it could be aborted/);
  expect((await h.requests()).filter((r) => r.method === 'PUT')).toEqual([]);
});
