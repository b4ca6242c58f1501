// A DeviceConfigurationSet through Pulumi's dynamic provider host: changes per device, and the
// partial-failure protocol. A device that rejects its configuration fails the update with an
// ErrorResourceInitFailed detail whose properties record what was done (the others configured,
// that one failed), so the engine keeps them; the next update, diffed against those properties,
// sends to that device alone. What the engine prints of it (the preview's marks per device, the
// failed up's message, the state it records) is in test/engine/configuration-sets.test.ts.
import { EmulatorHandle, LoggedRequest, mutating } from '../helpers/emulator';
import { HostError, hostWithEmulator, ProviderHost } from '../helpers/provider-host';
import { KIOSKS, kiosksWorld } from '../helpers/scenario-worlds';

const TOKEN = 'protocol-sets-token-51c2';
const K = KIOSKS;
const world = kiosksWorld(TOKEN);
const NAME = 'kiosks/kiosk.json';

const device = (url: string, token: string) => ({ values: { kiosk_url: url }, secretValues: { kiosk_token: token } });
const inputs = (devices: Record<string, ReturnType<typeof device>>) => ({ group: 'kiosks', template: 'kiosk.json', devices, timeoutSeconds: 30 });

/** Devices sent a configuration (PUT deviceconfig) in these requests. */
const configured = (requests: LoggedRequest[]) =>
  mutating(requests)
    .filter((r) => r.method === 'PUT' && r.path.startsWith('/api/management/v1/deviceconfig/configurations/device/'))
    .map((r) => r.path.split('/').pop()!)
    .sort();

describe('a configuration set through the dynamic provider host', () => {
  let emu: EmulatorHandle;
  let host: ProviderHost;
  const reported = async (id: string) => (await emu.api<{ reported: Record<string, string> }>('GET', `/api/management/v1/deviceconfig/configurations/device/${id}`)).reported;

  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ emu, host, close } = await hostWithEmulator(world, TOKEN));
  });

  afterAll(() => close?.());

  it('configures per device, fails one device with the partial-failure detail, and retries it alone', async () => {
    const first = Object.fromEntries(K.map((id, i) => [id, device(`https://example.org/kiosk-${i + 1}`, `token-${i + 1}`)]));
    const checked = await host.check('DeviceConfigurationSet', NAME, {}, inputs(first));
    expect(checked.failures).toEqual([]);
    const created = await host.create('DeviceConfigurationSet', NAME, checked.inputs);
    expect(created.id).toBe(NAME);
    for (const [i, id] of K.entries()) expect(await reported(id)).toEqual({ kiosk_url: `https://example.org/kiosk-${i + 1}`, kiosk_token: `token-${i + 1}` });
    expect(created.outs).toMatchObject({ failed: {}, inSync: true });

    // K2's URL and K3's secret change: a diff says so, and the update sends to those two only.
    const second = { ...first, [K[1]]: device('https://example.org/kiosk-2-moved', 'token-2'), [K[2]]: device('https://example.org/kiosk-3', 'token-3-rotated') };
    let news = (await host.check('DeviceConfigurationSet', NAME, checked.inputs, inputs(second))).inputs;
    expect((await host.diff('DeviceConfigurationSet', NAME, created.id, created.outs, news)).changes).toBe('some');
    await emu.clearRequests();
    const updated = await host.update('DeviceConfigurationSet', NAME, created.id, created.outs, news);
    expect(configured(await emu.requests())).toEqual([K[1], K[2]]);
    expect((await reported(K[2])).kiosk_token).toBe('token-3-rotated');

    // K1 and K4 change; K4 rejects its configuration.
    const third = { ...second, [K[0]]: device('https://example.org/kiosk-1-v2', 'token-1'), [K[3]]: device('https://example.org/kiosk-4-v2', 'token-4') };
    news = (await host.check('DeviceConfigurationSet', NAME, news, inputs(third))).inputs;
    await emu.admin('POST', `/devices/${K[3]}/behavior`, { reject_config: true });
    await emu.clearRequests();
    const failure = await host.update('DeviceConfigurationSet', NAME, created.id, updated, news).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(HostError);
    const { message, initFailed } = failure as HostError;
    expect(message).toContain(`configuration set kiosks/kiosk.json: 1 of 4 device(s) not configured: ${K[3]}`);
    expect(message).not.toContain('token-');
    // What the engine records: the set, K1 done, K4 failed.
    expect(initFailed?.id).toBe(NAME);
    expect(Object.keys(initFailed!.properties.failed as Record<string, string>)).toEqual([K[3]]);
    expect(configured(await emu.requests())).toEqual([K[0], K[3]]);
    expect((await reported(K[0])).kiosk_url).toBe('https://example.org/kiosk-1-v2');

    // The next update starts from what was recorded and sends to K4 alone.
    await emu.admin('POST', `/devices/${K[3]}/behavior`, { reject_config: false });
    const recorded = initFailed!.properties;
    expect((await host.diff('DeviceConfigurationSet', NAME, created.id, recorded, news)).changes).toBe('some');
    await emu.clearRequests();
    const retried = await host.update('DeviceConfigurationSet', NAME, created.id, recorded, news);
    expect(configured(await emu.requests())).toEqual([K[3]]);
    expect((await reported(K[3])).kiosk_url).toBe('https://example.org/kiosk-4-v2');
    expect(retried).toMatchObject({ failed: {}, inSync: true });

    // And then nothing is left to do.
    await emu.clearRequests();
    expect((await host.diff('DeviceConfigurationSet', NAME, created.id, retried, news)).changes).toBe('none');
    expect(mutating(await emu.requests())).toEqual([]);
  });
});
