// The device-health vocabulary (shared/health.ts, Git's side by the stack's hash in
// program/health.ts) and `fleet status` speaking it: a device whose
// configuration in Mender differs from Git's is drifted even when the device reports what Mender
// holds (before Git was compared, status called that stale configuration "in sync").
import { fleetStatus } from '../../cli/status';
import { recordedConfigurationHealth } from '../../program/health';
import { configurationHealth, converged, imageHealth, isConfiguration } from '../../shared/health';
import { configurationHash } from '../../program/pipeline/plan';
import type { DeviceSummary } from '../../program/pipeline/declare';
import { MenderClient } from '../../provider/mender';
import { EmulatorHandle, emulatorFor } from '../helpers/emulator';

const TOKEN = 'health-token-5b3e';
const A = 'a5a5a5a5-0000-4000-8000-0000000000a5';
const B = 'b6b6b6b6-0000-4000-8000-0000000000b6';
const PI4 = 'pi4-v3-arm64';

const git = { values: { kiosk_url: 'https://example.org/git', token: 'kiosk-token-1' }, secretKeys: ['token'] };
const stale = { ...git.values, kiosk_url: 'https://example.org/stale' };
const summary = (extra: Partial<DeviceSummary> = {}): DeviceSummary => ({
  group: 'pi4',
  ring: 'canary',
  ringSource: 'git',
  deviceType: PI4,
  desiredImage: 'pi4-2026.11',
  configurationHash: configurationHash(git),
  configurationSecretKeys: git.secretKeys,
  ...extra,
});

describe('recordedConfigurationHealth', () => {
  const desired = { hash: configurationHash(git), secretKeys: git.secretKeys };
  it.each([
    ['Mender holds and the device reports Git\'s configuration', { configured: git.values, reported: git.values }, 'in sync'],
    ['the device has not reported what Mender holds', { configured: git.values, reported: {} }, 'pending'],
    ['Mender holds nothing for the device', { configured: {}, reported: stale }, 'pending'],
    ['Mender holds and the device reports another configuration than Git\'s', { configured: stale, reported: stale }, 'drifted'],
    // The stack records no digest of a secret value (a digest of a short token could be guessed).
    ['a secret value other than Git\'s, which the stack\'s record cannot tell', { configured: { ...git.values, token: 'other' }, reported: { ...git.values, token: 'other' } }, 'in sync'],
    ['a key Git does not set', { configured: { ...git.values, extra: 'x' }, reported: { ...git.values, extra: 'x' } }, 'drifted'],
  ])('%s: %s', (_what, observed, health) => {
    expect(recordedConfigurationHealth(desired, observed)).toBe(health);
  });

  it('cannot compare with Git for a stack that recorded no secret keys, and keeps the old verdict', () => {
    expect(recordedConfigurationHealth({ hash: desired.hash }, { configured: stale, reported: stale })).toBe('in sync');
    expect(recordedConfigurationHealth({ hash: desired.hash }, { configured: {}, reported: {} })).toBe('pending');
  });
});

// The provider's read and rollout judge by Git's values, secrets included, with the same rule.
describe('configurationHealth by values', () => {
  const want = git.values;
  it.each([
    ['Mender holds and the device reports Git\'s configuration', { configured: want, reported: want }, 'in sync'],
    ['the device has not reported what Mender holds', { configured: want, reported: {} }, 'pending'],
    ['deviceconfig knows nothing of the device', undefined, 'pending'],
    ['Mender holds nothing for the device', { configured: {}, reported: {} }, 'pending'],
    ['a secret value other than Git\'s', { configured: { ...want, token: 'other' }, reported: { ...want, token: 'other' } }, 'drifted'],
    ['a key Git does not set', { configured: { ...want, extra: 'x' }, reported: { ...want, extra: 'x' } }, 'drifted'],
  ])('%s: %s', (_what, observed, health) => {
    expect(configurationHealth(observed, isConfiguration(want))).toBe(health);
  });

  it('calls an empty configuration that Git wants and Mender holds in sync', () => {
    expect(configurationHealth({ configured: {}, reported: {} }, isConfiguration({}))).toBe('in sync');
  });
});

describe('imageHealth', () => {
  it.each([
    ['pi4-2026.11', undefined, 'in sync'],
    ['pi4-2026.10', { artifact: 'pi4-2026.11', status: 'downloading' as const }, 'pending'],
    ['pi4-2026.10', { artifact: 'pi4-2026.11', status: 'failure' as const }, 'failed'],
    ['pi4-2026.10', { artifact: 'pi4-2026.11', status: 'aborted' as const }, 'drifted'],
    ['pi4-2026.10', { artifact: 'pi4-2026.11', status: 'success' as const }, 'drifted'],
    ['pi4-2026.10', undefined, 'drifted'],
  ])('running %s, last deployment %j: %s', (running, last, health) => {
    expect(imageHealth('pi4-2026.11', running, last)).toBe(health);
  });

  it('converges only when every managed aspect is in sync', () => {
    expect(converged('in sync', 'none')).toBe(true);
    expect(converged('in sync', 'drifted')).toBe(false);
    expect(converged('pending', 'in sync')).toBe(false);
  });
});

describe('fleet status against Mender', () => {
  let emu: EmulatorHandle;
  let client: MenderClient;

  beforeAll(async () => {
    emu = await emulatorFor({ artifacts: [{ name: 'pi4-2026.11', device_types: [PI4] }], devices: [A, B].map((id) => ({ id, device_type: PI4, artifact_name: 'pi4-2026.11' })), tokens: [TOKEN], users: [] }, TOKEN);
    client = new MenderClient({ serverUrl: emu.emulator.url, token: TOKEN });
    // A runs a stale configuration, B Git's; each device has applied and reported its own.
    for (const [id, values] of [[A, stale], [B, git.values]] as const) {
      await client.setDeviceConfiguration(id, values);
      await client.deployDeviceConfiguration(id);
    }
    const deadline = Date.now() + 20_000;
    for (const [id, values] of [[A, stale], [B, git.values]] as const) {
      while (JSON.stringify((await client.getDeviceConfiguration(id)).reported) !== JSON.stringify(values)) {
        if (Date.now() > deadline) throw new Error(`device ${id} never reported its configuration`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }, 30_000);

  afterAll(async () => {
    client?.close();
    await emu?.emulator.close();
  });

  it("reports a device whose configuration in Mender differs from Git's as drifted, not converged", async () => {
    const rows = await fleetStatus(client, { [A]: summary(), [B]: summary() });
    expect(rows.map((r) => [r.id, r.runningImage, r.configuration, r.converged])).toEqual([
      [A, 'pi4-2026.11', 'drifted', false],
      [B, 'pi4-2026.11', 'in sync', true],
    ]);
  });
});
