// The audit's diffing and formatting, as pure functions over hand-made checkpoints.
import { fleetChanges } from '../../program/audit/changes';
import { auditEntries, AuditUpdate } from '../../program/audit/entries';
import type { UpdateInfo } from '../../program/audit/history';
import { formatAudit } from '../../program/audit/report';
import { FleetSnapshot, snapshotOf } from '../../program/audit/snapshot';

const A = '3fb4632b-96b9-475d-ac89-02255bd15b6f';
const B = 'b8b311de-000e-4914-9a13-1d7e2e23bc5d';
const SIG = { '4dabf18193072939515e22adb298388d': '1b47061264138c4ac30d75fd1eb44270' };
const STACK = 'pulumi:pulumi:Stack';
const urn = (type: string, name: string) => `urn:pulumi:canary::fleet::${type}::${name}`;

interface Fixture {
  devices: Record<string, { image: string; hash?: string | null }>;
  deployments?: { image: string; devices: string[]; ids: string[]; failed?: string[]; outOfSync?: string[]; statistics?: Record<string, number> }[];
  configurations?: Record<string, { values: Record<string, string>; secret?: Record<string, string> | { ciphertext: string }; deploymentId: string; driftedKeys?: string[] }>;
}

/** An exported deployment shaped as `pulumi stack export` gives it. */
function exported(f: Fixture) {
  return {
    resources: [
      {
        urn: urn(STACK, 'fleet-canary'),
        type: STACK,
        outputs: {
          ring: 'canary',
          devices: Object.fromEntries(Object.entries(f.devices).map(([id, d]) => [id, { group: 'pi4', ring: 'canary', ringSource: 'git', deviceType: 'pi4-v3-arm64', desiredImage: d.image, configurationHash: d.hash ?? null }])),
        },
      },
      ...(f.deployments ?? []).map((d) => ({
        urn: urn('pulumi-nodejs:dynamic/mender:MenderDeployment', d.image),
        type: 'pulumi-nodejs:dynamic/mender:MenderDeployment',
        outputs: {
          artifactName: d.image,
          devices: d.devices,
          namePrefix: 'canary',
          deploymentIds: d.ids,
          deploymentId: d.ids[d.ids.length - 1],
          status: 'finished',
          statistics: d.statistics ?? { success: d.devices.length },
          failedDevices: d.failed ?? [],
          outOfSync: d.outOfSync ?? [],
        },
      })),
      ...Object.entries(f.configurations ?? {}).map(([id, c]) => ({
        urn: urn('pulumi-nodejs:dynamic/mender:DeviceConfiguration', id),
        type: 'pulumi-nodejs:dynamic/mender:DeviceConfiguration',
        outputs: {
          deviceId: id,
          values: c.values,
          secretValues: c.secret && 'ciphertext' in c.secret ? { ...SIG, ciphertext: c.secret.ciphertext } : { ...SIG, plaintext: JSON.stringify(c.secret ?? {}) },
          deploymentId: c.deploymentId,
          inSync: (c.driftedKeys ?? []).length === 0,
          driftedKeys: c.driftedKeys ?? [],
        },
      })),
    ],
  };
}

const snap = (f: Fixture): FleetSnapshot => snapshotOf(exported(f));

const info = (version: number, extra: Partial<UpdateInfo> = {}): UpdateInfo => ({
  version,
  kind: 'update',
  result: 'succeeded',
  startTime: `2026-11-2${version}T14:03:11.000Z`,
  message: `apply ${version}`,
  environment: {
    'git.head': `${version}a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d`,
    'git.headName': 'refs/heads/canary',
    'git.dirty': 'false',
    'git.author': 'Jane Doe',
    'git.author.email': 'jane@example.org',
  },
  ...extra,
});

describe('fleetChanges', () => {
  const v1: Fixture = {
    devices: { [A]: { image: 'pi4-2026.10', hash: 'h1' } },
    deployments: [{ image: 'pi4-2026.10', devices: [A], ids: ['d1'] }],
    configurations: { [A]: { values: { kiosk_url: 'https://a', os_image: 'pi4-2026.10' }, secret: { pin: '1234' }, deploymentId: 'c1' } },
  };

  it('describes the first update as devices joining, with the keys of their configuration', () => {
    expect(fleetChanges(undefined, snap(v1))).toEqual([
      { kind: 'device-added', device: A, ring: 'canary', image: 'pi4-2026.10' },
      { kind: 'configuration', device: A, keys: ['kiosk_url', 'os_image'], secretKeys: ['pin'], created: true },
    ]);
  });

  it('names image moves and the configuration keys that changed, secret ones by name only', () => {
    const v2: Fixture = {
      devices: { [A]: { image: 'pi4-2026.11', hash: 'h2' }, [B]: { image: 'pi4-2026.11' } },
      deployments: [{ image: 'pi4-2026.11', devices: [A, B], ids: ['d2'] }],
      configurations: { [A]: { values: { kiosk_url: 'https://a', os_image: 'pi4-2026.11', rotation: '90' }, secret: { pin: '9999' }, deploymentId: 'c2' } },
    };
    const changes = fleetChanges(snap(v1), snap(v2));
    expect(changes).toEqual([
      { kind: 'image', device: A, from: 'pi4-2026.10', to: 'pi4-2026.11' },
      { kind: 'configuration', device: A, keys: ['os_image', 'rotation'], secretKeys: ['pin'] },
      { kind: 'device-added', device: B, ring: 'canary', image: 'pi4-2026.11' },
    ]);
    expect(JSON.stringify(changes)).not.toMatch(/1234|9999/);
  });

  it('tells a re-sent configuration (drift corrected) from a changed one', () => {
    const v2 = { ...v1, configurations: { [A]: { ...v1.configurations![A], deploymentId: 'c2' } } };
    expect(fleetChanges(snap(v1), snap(v2))).toEqual([{ kind: 'configuration-reapplied', device: A, secretsCompared: true }]);
  });

  it('says it cannot compare secrets when they are unreadable, and does not guess', () => {
    const sealed = (deploymentId: string, hash: string): Fixture => ({
      devices: { [A]: { image: 'pi4-2026.10', hash } },
      configurations: { [A]: { values: { kiosk_url: 'https://a' }, secret: { ciphertext: 'v1:x:y' }, deploymentId } },
    });
    expect(fleetChanges(snap(sealed('c1', 'h1')), snap(sealed('c2', 'h1')))).toEqual([{ kind: 'configuration-reapplied', device: A, secretsCompared: false }]);
    // A different configuration hash means the secret keys themselves changed.
    expect(fleetChanges(snap(sealed('c1', 'h1')), snap(sealed('c2', 'h2')))).toEqual([{ kind: 'configuration', device: A, keys: [], secretKeys: null }]);
    expect(snap(sealed('c1', 'h1')).configurations[A].secretDigests).toBeUndefined();
  });

  it('digests opened secrets at once: the snapshot never holds a value', () => {
    const opened: Fixture = { devices: { [A]: { image: 'i' } }, configurations: { [A]: { values: {}, secret: { token: 'hunter2' }, deploymentId: 'c1' } } };
    const snapshot = snap(opened);
    expect(Object.keys(snapshot.configurations[A].secretDigests!)).toEqual(['token']);
    expect(snapshot.configurations[A].secretDigests!.token).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(snapshot)).not.toContain('hunter2');
  });

  it('reads the devices output as the secret it now is, and falls back to the deployments when it cannot open it', () => {
    const plain = snap(v1);
    const original = (exported(v1).resources[0].outputs as { devices: unknown }).devices;
    const withDevices = (devices: unknown) => {
      const e = exported(v1);
      return { resources: [{ ...e.resources[0], outputs: { ...e.resources[0].outputs, devices } }, ...e.resources.slice(1)] };
    };
    // Opened by the engine (`stack export --show-secrets`) it is in clear; still sealed it cannot be read.
    expect(snapshotOf(withDevices({ ...SIG, plaintext: JSON.stringify(original) })).devices).toEqual(plain.devices);
    const unreadable = snapshotOf(withDevices({ ...SIG, ciphertext: 'v1:x:y' }));
    expect(unreadable.devices).toEqual({ [A]: { ring: 'canary', desiredImage: 'pi4-2026.10' } });
    expect(fleetChanges(plain, unreadable)).toEqual([]);
  });

  it('reports devices leaving the ring and configurations no longer managed', () => {
    expect(fleetChanges(snap(v1), snap({ devices: {} }))).toEqual([
      { kind: 'device-removed', device: A, image: 'pi4-2026.10' },
      { kind: 'configuration-removed', device: A },
    ]);
  });

  it('reports drift found by a refresh, a redeployment that corrected it, and failed devices', () => {
    const refreshed: Fixture = {
      ...v1,
      deployments: [{ image: 'pi4-2026.10', devices: [A], ids: ['d1'], outOfSync: [A] }],
      configurations: { [A]: { ...v1.configurations![A], driftedKeys: ['kiosk_url'] } },
    };
    expect(fleetChanges(snap(v1), snap(refreshed), 'refresh')).toEqual([
      { kind: 'drift-configuration', device: A, keys: ['kiosk_url'] },
      { kind: 'drift-image', device: A, image: 'pi4-2026.10' },
    ]);
    const corrected: Fixture = { ...v1, deployments: [{ image: 'pi4-2026.10', devices: [A], ids: ['d1', 'd3'], failed: [A], statistics: { failure: 1 } }] };
    expect(fleetChanges(snap(refreshed), snap(corrected))).toEqual([
      { kind: 'deployment-failed', image: 'pi4-2026.10', devices: [A], deploymentId: 'd3' },
      { kind: 'image-redeployed', image: 'pi4-2026.10', devices: [A], count: 1 },
    ]);
  });
});

describe('snapshotOf', () => {
  it("says in the health vocabulary what a configuration set recorded of each device", () => {
    const set = {
      resources: [
        {
          urn: urn('pulumi-nodejs:dynamic/mender:DeviceConfigurationSet', 'pi4/kiosk.json'),
          type: 'pulumi-nodejs:dynamic/mender:DeviceConfigurationSet',
          outputs: {
            group: 'pi4',
            template: 'kiosk.json',
            devices: { ...SIG, plaintext: JSON.stringify({ [A]: { values: { kiosk_url: 'u' } }, [B]: { values: { kiosk_url: 'u' } }, c: { values: {} } }) },
            deploymentIds: { [A]: 'c1', [B]: 'c2' },
            drifted: { [A]: ['kiosk_url'] },
            failed: { [B]: `device ${B} failed to apply its configuration` },
          },
        },
      ],
    };
    const { configurations } = snapshotOf(set);
    expect(Object.fromEntries(Object.entries(configurations).map(([id, c]) => [id, c.health]))).toEqual({ [A]: 'drifted', [B]: 'failed', c: 'in sync' });
  });

  it('calls a DeviceConfiguration not waited for pending', () => {
    const single = exported({ devices: {}, configurations: { [A]: { values: { kiosk_url: 'u' }, deploymentId: 'c1' } } });
    (single.resources[1].outputs as Record<string, unknown>).inSync = false;
    expect(snapshotOf(single).configurations[A].health).toBe('pending');
    expect(snap({ devices: {}, configurations: { [A]: { values: {}, deploymentId: 'c1', driftedKeys: ['x'] } } }).configurations[A].health).toBe('drifted');
  });
});

describe('auditEntries and formatAudit', () => {
  const s1 = snap({ devices: { [A]: { image: 'pi4-2026.10' } }, configurations: { [A]: { values: { kiosk_url: 'u1' }, deploymentId: 'c1' } } });
  const s2 = snap({ devices: { [A]: { image: 'pi4-2026.11' } }, configurations: { [A]: { values: { kiosk_url: 'u2' }, deploymentId: 'c2' } } });
  const updates: AuditUpdate[] = [
    { info: info(1), snapshot: s1 },
    {
      info: info(2, {
        message: 'apply 2a2b3c4 to canary\n\nlong body',
        environment: { ...info(2).environment, 'git.dirty': 'true', 'ci.system': 'GitHub', 'ci.build.id': '42', 'ci.build.url': 'https://github.com/o/r/actions/runs/42' },
        config: { 'fleet:promotionOverride': '[{"image":"pi4-2026.11","reason":"hotfix"}]' },
      }),
      snapshot: s2,
    },
    { info: info(3, { kind: 'refresh', environment: undefined, result: 'failed' }), snapshot: s2 },
  ];

  it('prints when, which commit, by whom, and the fleet changes', () => {
    expect(formatAudit(auditEntries(updates))).toBe(
      [
        '#1 2026-11-21T14:03:11Z  commit 1a2b3c4 by Jane Doe <jane@example.org>  "apply 1"',
        `    device ${A}: joined the ring canary, image pi4-2026.10`,
        `    device ${A}: configuration set (keys kiosk_url)`,
        '#2 2026-11-22T14:03:11Z  commit 2a2b3c4 (with uncommitted changes) by Jane Doe <jane@example.org>  "apply 2a2b3c4 to canary"',
        '    ci: GitHub build 42 https://github.com/o/r/actions/runs/42',
        '    promotion override: pi4-2026.11 (hotfix)',
        `    device ${A}: image pi4-2026.10 → pi4-2026.11`,
        `    device ${A}: configuration keys kiosk_url changed`,
        '#3 2026-11-23T14:03:11Z  refresh  commit unknown (not run from a Git checkout)  "apply 3"  FAILED',
        '    no change on the fleet',
      ].join('\n'),
    );
  });

  it('limits to a range but measures the first entry against the update before it', () => {
    const entries = auditEntries(updates, { from: 2, to: 2 });
    expect(entries.map((e) => e.version)).toEqual([2]);
    expect(entries[0].changes).toEqual([
      { kind: 'image', device: A, from: 'pi4-2026.10', to: 'pi4-2026.11' },
      { kind: 'configuration', device: A, keys: ['kiosk_url'], secretKeys: [] },
    ]);
    expect(entries[0].git).toEqual({ sha: '2a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d', ref: 'refs/heads/canary', dirty: true, author: 'Jane Doe', authorEmail: 'jane@example.org', committer: undefined, committerEmail: undefined });
    expect(entries[0].ci).toEqual({ 'ci.build.id': '42', 'ci.build.url': 'https://github.com/o/r/actions/runs/42', 'ci.system': 'GitHub' });
  });

  it('says when the backend could not give a checkpoint instead of inventing changes', () => {
    const entries = auditEntries([{ info: info(1), snapshot: s1 }, { info: info(2) }, { info: info(3), snapshot: s2 }]);
    expect(entries.map((e) => e.changes === null)).toEqual([false, true, true]);
    expect(formatAudit(entries)).toContain('    fleet changes unknown: the backend cannot give this checkpoint');
    expect(formatAudit([])).toBe('no updates in range');
  });
});
