// The three resources through Pulumi's dynamic provider host, called as the engine calls it in a
// preview, an up, a second up and a refresh, against the emulator over real HTTP. What needs the
// engine itself (its summary, the state's encryption) stays in test/engine/resources.test.ts.
import { EmulatorHandle, mutating } from '../helpers/emulator';
import { hostWithEmulator, ProviderHost } from '../helpers/provider-host';
import { DEFAULT_POLICY } from '../../provider/rollout/policy';
import type { ResourceKind } from '../../provider/serialized-provider';
import { RESOURCES, resourcesWorld } from '../helpers/scenario-worlds';

const TOKEN = 'protocol-test-token-7f3a9c';
const SECRET = 'runner-secret-5e1d8b';
const { PI4_A, PI4_B, PI3 } = RESOURCES;
const OFFLINE = '0c5a4c6e-3f70-4d8a-9c0b-6f4a2c1d7e90';
const CREATE_DEPLOYMENT = '/api/management/v1/deployments/deployments';

const world = resourcesWorld(TOKEN, [{ id: OFFLINE, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', behavior: { offline: true } }]);

type Props = Record<string, unknown>;
interface Declared {
  kind: ResourceKind;
  name: string;
  inputs: Props;
}
interface Recorded extends Declared {
  id: string;
  outputs: Props;
}

const ROLLOUT = { timeoutSeconds: 60, pollSeconds: 0.05 };
// What test/fixtures/resources-program declares for the same desired state (program/resources.ts).
const ring: Declared[] = [
  { kind: 'ImageRelease', name: 'pi4-2026.11', inputs: { artifactName: 'pi4-2026.11', deviceTypes: ['pi4-v3-arm64'] } },
  { kind: 'ImageRelease', name: 'pi3-2026.11', inputs: { artifactName: 'pi3-2026.11', deviceTypes: ['pi3-arm64'] } },
  { kind: 'MenderDeployment', name: 'pi4-2026.11', inputs: { artifactName: 'pi4-2026.11', devices: [PI4_B, PI4_A], namePrefix: 'canary', rollout: ROLLOUT } },
  { kind: 'MenderDeployment', name: 'pi3-2026.11', inputs: { artifactName: 'pi3-2026.11', devices: [PI3], namePrefix: 'canary', rollout: ROLLOUT } },
  {
    kind: 'DeviceConfiguration',
    name: `config-${PI4_A}`,
    inputs: { deviceId: PI4_A, values: { kiosk_url: 'https://example.org' }, secretValues: { runner_token: SECRET }, timeoutSeconds: 30 },
  },
];

describe('the resources through Pulumi\'s dynamic provider host', () => {
  let emu: EmulatorHandle;
  let host: ProviderHost;

  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ emu, host, close } = await hostWithEmulator(world, TOKEN));
  });

  afterAll(() => close?.());

  /** An up's create steps, in declaration order (each resource depends on those before it). */
  async function create(declared: Declared[]): Promise<Recorded[]> {
    const recorded: Recorded[] = [];
    for (const r of declared) {
      const { inputs, failures } = await host.check(r.kind, r.name, {}, r.inputs);
      expect(failures).toEqual([]);
      const { id, outs } = await host.create(r.kind, r.name, inputs);
      recorded.push({ ...r, inputs, id, outputs: outs });
    }
    return recorded;
  }

  it('previews, converges, changes nothing on a second up, and redeploys a reflashed device after a refresh', async () => {
    // A preview of a new stack: Check for each resource, nothing else, nothing sent to Mender.
    await emu.clearRequests();
    for (const r of ring) {
      const { failures } = await host.check(r.kind, r.name, {}, r.inputs);
      expect(failures).toEqual([]);
    }
    expect(mutating(await emu.requests())).toEqual([]);
    expect(await emu.osImage(PI4_A)).toBe('pi4-2026.10');

    // The up.
    const state = await create(ring);
    expect(await emu.osImage(PI4_A)).toBe('pi4-2026.11');
    expect(await emu.osImage(PI4_B)).toBe('pi4-2026.11');
    expect(await emu.osImage(PI3)).toBe('pi3-2026.11');
    const configuration = await emu.api<{ reported: Record<string, string> }>('GET', `/api/management/v1/deviceconfig/configurations/device/${PI4_A}`);
    expect(configuration.reported).toEqual({ kiosk_url: 'https://example.org', runner_token: SECRET });
    // This ring's (the other test's rollout, in production, may have run first).
    const software = (await emu.api<{ name: string; type?: string }[]>('GET', '/api/management/v2/deployments/deployments?per_page=100')).filter((d) => d.type !== 'configuration' && d.name.startsWith('canary:'));
    expect(software).toHaveLength(2);
    // The token never reaches what the providers print, nor any output (the engine encrypts the secret values: test/engine).
    expect(host.output().stdout).not.toContain(TOKEN);
    expect(host.output().stdout).not.toContain(SECRET);
    expect(JSON.stringify(state.map((r) => r.outputs))).not.toContain(TOKEN);

    // A second up: Check and Diff say nothing changed, and Mender gets no mutating request.
    await emu.clearRequests();
    for (const r of state) {
      const { inputs } = await host.check(r.kind, r.name, r.inputs, r.inputs);
      expect(await host.diff(r.kind, r.name, r.id, r.outputs, inputs)).toEqual({ changes: 'none', replaces: [], deleteBeforeReplace: false });
    }
    expect(mutating(await emu.requests())).toEqual([]);

    // Someone reflashes PI4_B; a refresh finds it, the next up redeploys it alone.
    await emu.admin('POST', `/devices/${PI4_B}/inventory`, { artifact_name: 'pi4-2026.10', 'rootfs-image.version': 'pi4-2026.10' });
    const pi4 = state.find((r) => r.kind === 'MenderDeployment' && r.name === 'pi4-2026.11')!;
    const refreshed = await host.read(pi4.kind, pi4.name, pi4.id, pi4.outputs, pi4.inputs);
    expect(refreshed.id).toBe(pi4.id);
    expect(refreshed.props.outOfSync).toEqual([PI4_B]);
    const { inputs } = await host.check(pi4.kind, pi4.name, pi4.inputs, pi4.inputs);
    expect((await host.diff(pi4.kind, pi4.name, pi4.id, refreshed.props, inputs)).changes).toBe('some');
    await emu.clearRequests();
    const updated = await host.update(pi4.kind, pi4.name, pi4.id, refreshed.props, inputs);
    expect(updated.outOfSync).toEqual([]);
    expect(await emu.osImage(PI4_B)).toBe('pi4-2026.11');
    expect(mutating(await emu.requests()).filter((r) => r.method === 'POST' && r.path === CREATE_DEPLOYMENT)).toHaveLength(1);
  });

  // A rollout that outlasts the up's wait is not an error: the create returns it as under way
  // (no init error), and the next update continues from its deployment.
  it('records a rollout that outlasted the up as under way, and the next update continues from its deployment', async () => {
    const policy = { ...DEFAULT_POLICY, waitMinutes: 2 / 60, deviceTimeoutMinutes: 60 };
    const declared: Declared = {
      kind: 'MenderDeployment',
      name: 'offline-2026.11',
      inputs: { artifactName: 'pi4-2026.11', devices: [OFFLINE], namePrefix: 'production', rollout: { pollSeconds: 0.05 }, policy },
    };
    await emu.clearRequests();
    const [first] = await create([declared]);
    expect(host.output().stdout).toContain('pi4-2026.11 in production: wave 1 of 1: 1 pending');
    const posts = mutating(await emu.requests()).filter((r) => r.method === 'POST' && r.path === CREATE_DEPLOYMENT);
    expect(posts).toHaveLength(1);
    expect(first.outputs).toMatchObject({ deploymentIds: [first.id], status: 'inprogress', progress: { phase: 'waiting' } });

    // The device comes online; a longer wait lets the next up watch the rollout to its end.
    const longer = { ...declared.inputs, policy: { ...policy, waitMinutes: 1 } };
    await emu.admin('POST', `/devices/${OFFLINE}/behavior`, { offline: false });
    const { inputs } = await host.check(first.kind, first.name, first.inputs, longer);
    expect((await host.diff(first.kind, first.name, first.id, first.outputs, inputs)).changes).toBe('some');
    await emu.clearRequests();
    const outs = await host.update(first.kind, first.name, first.id, first.outputs, inputs);
    expect(outs).toMatchObject({ status: 'finished' });
    expect(mutating(await emu.requests()).filter((r) => r.method === 'POST' && r.path === CREATE_DEPLOYMENT)).toEqual([]);
    expect(await emu.osImage(OFFLINE)).toBe('pi4-2026.11');
  });
});
