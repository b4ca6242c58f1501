// What a device runs, as provider/mender/observed.ts tells it (the one definition the resources,
// status and plan use): artifact_name, except after a configuration deployment, whose artifact
// is named `configuration-<deployment id>` (mender-server deployments app/app.go,
// GenerateConfigurationImage) and clears only data-partition.mender-configure.*: then the
// rootfs-image.version the client still provides, named as the artifact that provides it, else
// the device's newest installed software deployment.
import type { World } from '../../emulator';
import { EmulatorHandle, emulatorFor } from '../helpers/emulator';
import { configure, menderClient } from '../../provider/settings';
import { isConfigurationArtifactName, runningImages } from '../../provider/mender/observed';

const TOKEN = 'observed-token-5b21';
const PI4 = 'raspberrypi4';
const [PLAIN, BY_VERSION, UNKNOWN_VERSION, NO_VERSION, ABSENT] = Array.from({ length: 5 }, (_, i) => `e000000${i + 1}-aaaa-4bbb-8ccc-dddddddddddd`);
const CONFIG_ARTIFACT = 'configuration-0c6b8c3e-2f4a-4d51-9b1e-6a2c8f0d9e11';

const world: World = {
  artifacts: [
    { name: 'os-1.0', device_types: [PI4] },
    // Mender's own examples give an image a rootfs-image.version other than its name.
    { name: 'os-2.0', device_types: [PI4], provides: { 'rootfs-image.version': '2.0.0' } },
  ],
  devices: [
    // A name that is no configuration artifact's is the image, whatever the version says.
    { id: PLAIN, device_type: PI4, artifact_name: 'os-1.0', attributes: { 'rootfs-image.version': '2.0.0' } },
    { id: BY_VERSION, device_type: PI4, artifact_name: CONFIG_ARTIFACT, attributes: { 'rootfs-image.version': '2.0.0' } },
    { id: UNKNOWN_VERSION, device_type: PI4, artifact_name: CONFIG_ARTIFACT, attributes: { 'rootfs-image.version': 'made-by-hand' } },
    { id: NO_VERSION, device_type: PI4, artifact_name: 'os-1.0' },
  ],
  tokens: [TOKEN],
  users: [],
};

let emu: EmulatorHandle;
afterAll(async () => {
  await emu?.emulator.close();
});

it('recognises the name a configuration deployment gives its artifact, and only that', () => {
  expect(isConfigurationArtifactName(CONFIG_ARTIFACT)).toBe(true);
  expect(isConfigurationArtifactName('configuration-kiosk')).toBe(false);
  expect(isConfigurationArtifactName('os-2.0')).toBe(false);
});

it('tells the OS image by artifact_name, by rootfs-image.version after a configuration, else by the last installed deployment', async () => {
  emu = await emulatorFor(world, TOKEN, { pollIntervalMs: 50, stepMs: 20, workflowDelayMs: 50 });
  configure({ serverUrl: emu.emulator.url, token: TOKEN });
  const client = menderClient();
  // NO_VERSION installs os-2.0 through a software deployment, then reports a configuration
  // artifact and no rootfs-image.version (a client without the provides inventory script).
  await emu.api('POST', '/api/management/v1/deployments/deployments', { name: 'os', artifact_name: 'os-2.0', devices: [NO_VERSION] });
  for (let i = 0; i < 200; i++) {
    const [latest] = await emu.api<{ device: { status: string } }[]>('GET', `/api/management/v1/deployments/deployments/devices/${NO_VERSION}`);
    if (latest?.device.status === 'success') break;
    await new Promise((r) => setTimeout(r, 25));
  }
  await emu.admin('POST', `/devices/${NO_VERSION}/inventory`, { artifact_name: CONFIG_ARTIFACT, 'rootfs-image.version': null });

  const running = await runningImages(client, [PLAIN, BY_VERSION, UNKNOWN_VERSION, NO_VERSION, ABSENT]);
  expect(Object.fromEntries(running)).toEqual({
    [PLAIN]: 'os-1.0',
    [BY_VERSION]: 'os-2.0',
    // No artifact on the server provides it: mender-artifact's default is the artifact's name.
    [UNKNOWN_VERSION]: 'made-by-hand',
    [NO_VERSION]: 'os-2.0',
  });
  expect(running.has(ABSENT)).toBe(false);
});
