// DeviceConfigurationSet's provider against the emulator over HTTP, without the engine: what an
// update sends (only devices new, changed, drifted or failed), drift found by read per device,
// devices leaving, check, and the partial failure the engine records.
import { configure } from '../../provider/settings';
import { deviceConfigurationSet, devicesToApply } from '../../provider/device-configuration-set';
import type { DeviceConfigurationSetInputs, DeviceConfigurationSetOutputs } from '../../provider/types';
import { EmulatorHandle, emulatorFor, LoggedRequest } from '../helpers/emulator';

const TOKEN = 'configuration-set-token-8e2d';
const DEV = Array.from({ length: 5 }, (_, i) => `e000000${i + 1}-aaaa-4bbb-8ccc-dddddddddddd`);
const [D1, D2, D3, D4, D5] = DEV;
const world = {
  artifacts: [{ name: 'os-1.0', device_types: ['raspberrypi4'] }],
  devices: DEV.map((id) => ({ id, device_type: 'raspberrypi4', artifact_name: 'os-1.0' })),
  tokens: [TOKEN],
  users: [],
};

const inputs = (devices: Record<string, string>, extra: Partial<DeviceConfigurationSetInputs> = {}): DeviceConfigurationSetInputs => ({
  group: 'kiosks',
  template: 'kiosk.json',
  devices: Object.fromEntries(Object.entries(devices).map(([id, url]) => [id, { values: { kiosk_url: url }, secretValues: { token: `secret-${id.slice(0, 8)}` } }])),
  timeoutSeconds: 20,
  ...extra,
});

/** Devices sent a configuration (PUT deviceconfig). */
const sentTo = (requests: LoggedRequest[]) =>
  requests
    .filter((r) => r.method === 'PUT' && r.path.includes('/deviceconfig/configurations/device/'))
    .map((r) => r.path.split('/').pop()!)
    .sort();

let emu: EmulatorHandle;
beforeEach(async () => {
  emu = await emulatorFor(world, TOKEN);
  configure({ serverUrl: emu.emulator.url, token: TOKEN });
});
afterEach(async () => {
  await emu.emulator.close();
});

async function created(devices: Record<string, string>): Promise<DeviceConfigurationSetOutputs> {
  const { inputs: checked, failures } = await deviceConfigurationSet.check!({} as DeviceConfigurationSetInputs, inputs(devices));
  expect(failures).toEqual([]);
  const { id, outs } = await deviceConfigurationSet.create(checked!);
  expect(id).toBe('kiosks/kiosk.json');
  return outs as DeviceConfigurationSetOutputs;
}

describe('DeviceConfigurationSet provider', () => {
  it('creates by configuring every device and records each one\'s configuration deployment', async () => {
    const outs = await created({ [D1]: 'https://a', [D2]: 'https://b' });
    expect(sentTo(await emu.requests())).toEqual([D1, D2]);
    expect(Object.keys(outs.deploymentIds).sort()).toEqual([D1, D2]);
    expect(outs.failed).toEqual({});
    expect(outs.inSync).toBe(true);
    const state = await emu.api<{ reported: Record<string, string> }>('GET', `/api/management/v1/deviceconfig/configurations/device/${D2}`);
    expect(state.reported).toEqual({ kiosk_url: 'https://b', token: 'secret-e0000002' });
  });

  it('sends an update only to devices that joined or changed, and leaves a departed device as it is', async () => {
    const olds = await created({ [D1]: 'https://a', [D2]: 'https://b', [D3]: 'https://c' });
    const news = inputs({ [D1]: 'https://a', [D2]: 'https://b2', [D4]: 'https://d' });
    expect(devicesToApply(olds, news)).toEqual([D2, D4]);
    expect(await deviceConfigurationSet.diff!('kiosks/kiosk.json', olds, news)).toEqual({ changes: true });
    await emu.clearRequests();
    const { outs } = await deviceConfigurationSet.update!('kiosks/kiosk.json', olds, news);
    expect(sentTo(await emu.requests())).toEqual([D2, D4]);
    expect(Object.keys(outs!.deploymentIds).sort()).toEqual([D1, D2, D4]);
    expect(outs!.deploymentIds[D1]).toBe(olds.deploymentIds[D1]);
    const left = await emu.api<{ configured: Record<string, string> }>('GET', `/api/management/v1/deviceconfig/configurations/device/${D3}`);
    expect(left.configured).toEqual({ kiosk_url: 'https://c', token: 'secret-e0000003' });
  });

  it('clears a departed device when clearOnDelete is set', async () => {
    const olds = { ...(await created({ [D1]: 'https://a', [D3]: 'https://c' })), clearOnDelete: true };
    await deviceConfigurationSet.update!('kiosks/kiosk.json', olds, inputs({ [D1]: 'https://a' }, { clearOnDelete: true }));
    const left = await emu.api<{ configured: Record<string, string> }>('GET', `/api/management/v1/deviceconfig/configurations/device/${D3}`);
    expect(left.configured).toEqual({});
  });

  it('reads drift per device (a hand-made change, a device deviceconfig does not know), naming keys only', async () => {
    const outs = await created({ [D1]: 'https://a', [D2]: 'https://b' });
    await emu.api('PUT', `/api/management/v1/deviceconfig/configurations/device/${D2}`, { kiosk_url: 'https://by-hand', token: 'secret-e0000002' });
    const withUnknown = { ...outs, devices: { ...outs.devices, [D5]: { values: { kiosk_url: 'https://e' } } } };
    const { props } = await deviceConfigurationSet.read!('kiosks/kiosk.json', withUnknown);
    expect(props!.drifted).toEqual({ [D2]: ['kiosk_url'], [D5]: ['kiosk_url'] });
    expect(props!.inSync).toBe(false);
    // The next update sends to the drifted devices again.
    expect(devicesToApply(props!, inputs({ [D1]: 'https://a', [D2]: 'https://b' }))).toEqual([D2]);
  });

  it('fails a device that rejects its configuration and only it, with the set\'s id and properties for the engine', async () => {
    await emu.admin('POST', `/devices/${D2}/behavior`, { reject_config: true });
    const { inputs: checked } = await deviceConfigurationSet.check!({} as DeviceConfigurationSetInputs, inputs({ [D1]: 'https://a', [D2]: 'https://b', [D3]: 'https://c' }));
    const error = (await deviceConfigurationSet.create(checked!).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { id: string; properties: DeviceConfigurationSetOutputs; reasons: string[] };
    expect(error.message).toBe(`configuration set kiosks/kiosk.json: 1 of 3 device(s) not configured: ${D2}; the others are configured, and the next up retries these`);
    expect(error.id).toBe('kiosks/kiosk.json');
    expect(Object.keys(error.properties.failed)).toEqual([D2]);
    expect(Object.keys(error.properties.deploymentIds).sort()).toEqual([D1, D2, D3]);
    expect(error.reasons[1]).toMatch(new RegExp(`^device ${D2} failed to apply its configuration \\(deployment [0-9a-f-]{36}\\)`));
    expect(error.reasons.join('\n')).not.toContain('secret-e');
  });

  it('fails alone a device whose configuration cannot be read while the rollout waits for its report, keeping the others', async () => {
    // Offline, D2 never reports, so the rollout is still waiting for it when its reads start to fail.
    await emu.admin('POST', `/devices/${D2}/behavior`, { offline: true });
    const { inputs: checked } = await deviceConfigurationSet.check!({} as DeviceConfigurationSetInputs, inputs({ [D1]: 'https://a', [D2]: 'https://b', [D3]: 'https://c' }));
    const outcome = deviceConfigurationSet.create(checked!).then(
      () => undefined,
      (e: unknown) => e,
    );
    const deployPath = `/api/management/v1/deviceconfig/configurations/device/${D2}/deploy`;
    while (!(await emu.requests()).some((r) => r.method === 'POST' && r.path === deployPath)) await new Promise((r) => setTimeout(r, 20));
    await emu.admin('POST', '/faults', { method: 'GET', path: `^/api/management/v1/deviceconfig/configurations/device/${D2}$`, count: 1000, status: 500 });
    const error = (await outcome) as Error & { properties: DeviceConfigurationSetOutputs; reasons: string[] };
    expect(error.message).toBe(`configuration set kiosks/kiosk.json: 1 of 3 device(s) not configured: ${D2}; the others are configured, and the next up retries these`);
    expect(Object.keys(error.properties.failed)).toEqual([D2]);
    expect(error.properties.failed[D2]).toMatch(new RegExp(`^cannot read the configuration of device ${D2} while waiting for its report \\(deployment [0-9a-f-]{36}\\): .*500`));
    expect(Object.keys(error.properties.deploymentIds).sort()).toEqual([D1, D2, D3]);
  });

  it('check names the device whose configuration Mender would refuse', async () => {
    const tooMany = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`key${i}`, 'v']));
    const { failures } = await deviceConfigurationSet.check!({} as DeviceConfigurationSetInputs, {
      group: 'kiosks',
      template: 'kiosk.json',
      devices: { [D1]: { values: tooMany }, [D2]: { values: { a: 'x' }, secretValues: { a: 'y' } }, [D3]: { values: { n: 5 as unknown as string } } },
    });
    expect(failures).toEqual([
      { property: 'devices', reason: `device ${D1} would get 101 configuration keys and Mender accepts at most 100: merge keys (for example into one JSON value)` },
      { property: 'devices', reason: `device ${D2}: keys a are both plain and secret` },
      { property: 'devices', reason: `device ${D3}: configuration key n must be a string (Mender's configuration is a map of strings)` },
    ]);
  });
});
