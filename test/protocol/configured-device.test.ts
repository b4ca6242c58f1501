// A configured device keeps its OS image in the MenderDeployment's eyes after its configuration
// deployment (which turns its artifact_name into `configuration-<id>`, as mender-server's
// GenerateConfigurationImage artifact does on a real client): through Pulumi's dynamic provider
// host, a refresh's Read finds nothing out of sync, the Diff after it finds nothing to do, and an
// update for a longer timeout sends no software deployment. The engine's view of the same device
// (`fleet status`, `fleet plan`) is in test/engine/configured-device-image.test.ts.
import type { EmulatorHandle, LoggedRequest } from '../helpers/emulator';
import { hostWithEmulator, ProviderHost } from '../helpers/provider-host';
import { CONFIGURED, configuredWorld } from '../helpers/scenario-worlds';

const TOKEN = 'protocol-configured-token-3e9a';
const { A, B } = CONFIGURED;
const world = configuredWorld(TOKEN);
const DEPLOYMENTS = '/api/management/v1/deployments/deployments';
const softwareDeploymentsCreated = (requests: LoggedRequest[]) => requests.filter((r) => r.method === 'POST' && r.path === DEPLOYMENTS);

describe('a configured device through the dynamic provider host', () => {
  let emu: EmulatorHandle;
  let host: ProviderHost;
  const inventoryOf = async (id: string) => {
    const device = await emu.api<{ attributes: { name: string; value: string; scope: string }[] }>('GET', `/api/management/v1/inventory/devices/${id}`);
    return Object.fromEntries(device.attributes.filter((a) => a.scope === 'inventory').map((a) => [a.name, a.value]));
  };

  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ emu, host, close } = await hostWithEmulator(world, TOKEN));
  });

  afterAll(() => close?.());

  it('runs its image still: a refresh finds it in sync, and a timeout change sends no OS', async () => {
    const deployment = (timeoutSeconds: number) => ({ artifactName: 'pi4-2026.11', devices: [A, B], namePrefix: 'canary', rollout: { timeoutSeconds, pollSeconds: 0.05 } });
    const set = (url: string) => ({ group: 'pi4', template: 'kiosk.json', devices: { [A]: { values: { kiosk_url: url } } }, timeoutSeconds: 60 });

    const image = await host.create('MenderDeployment', 'pi4-2026.11', (await host.check('MenderDeployment', 'pi4-2026.11', {}, deployment(60))).inputs);
    const configuration = await host.create('DeviceConfigurationSet', 'pi4/kiosk.json', (await host.check('DeviceConfigurationSet', 'pi4/kiosk.json', {}, set('https://example.org/one'))).inputs);
    // A configuration change alone: A commits the configuration artifact, as the real client does.
    await emu.clearRequests();
    const moved = (await host.check('DeviceConfigurationSet', 'pi4/kiosk.json', {}, set('https://example.org/two'))).inputs;
    await host.update('DeviceConfigurationSet', 'pi4/kiosk.json', configuration.id, configuration.outs, moved);
    expect(softwareDeploymentsCreated(await emu.requests())).toEqual([]);
    const config = await emu.api<{ deployment_id: string }>('GET', `/api/management/v1/deviceconfig/configurations/device/${A}`);
    expect(await inventoryOf(A)).toMatchObject({ artifact_name: `configuration-${config.deployment_id}`, 'rootfs-image.version': 'pi4-2026.11' });

    // A refresh: the deployment's Read finds both devices on their image; nothing to do after it.
    await emu.clearRequests();
    const news = (await host.check('MenderDeployment', 'pi4-2026.11', deployment(60), deployment(60))).inputs;
    const refreshed = await host.read('MenderDeployment', 'pi4-2026.11', image.id, image.outs, news);
    expect(refreshed.props.outOfSync).toEqual([]);
    expect((await host.diff('MenderDeployment', 'pi4-2026.11', image.id, refreshed.props, news)).changes).toBe('none');

    // A longer timeout is an update of the resource, and it sends no software deployment.
    const longer = (await host.check('MenderDeployment', 'pi4-2026.11', news, deployment(120))).inputs;
    expect((await host.diff('MenderDeployment', 'pi4-2026.11', image.id, refreshed.props, longer)).changes).toBe('some');
    await host.update('MenderDeployment', 'pi4-2026.11', image.id, refreshed.props, longer);
    expect(softwareDeploymentsCreated(await emu.requests())).toEqual([]);
    expect((await inventoryOf(A))['rootfs-image.version']).toBe('pi4-2026.11');
  });
});
