// Table-driven tests of the pure planner: (fleet, Mender facts) → plan of one ring.
import * as fs from 'node:fs';
import { loadFleet } from '../../program/description/load';
import { DeviceFacts, FleetFacts, Plan, planRing } from '../../program/pipeline/plan';
import { baseFleet, writeFleet } from './fleet-files';

const PI4_A = '3fb4632b-96b9-475d-ac89-02255bd15b6f'; // canary in Git, configured
const PI4_B = 'b8b311de-000e-4914-9a13-1d7e2e23bc5d'; // production (group_vars/all)
const PI3 = '50a28c2e-3ee8-4559-a5b9-3ce47c881c5d'; // production
const noSecrets = { env: {}, lookupEnv: new Set<string>(), config: {}, secretConfigKeys: new Set<string>() };
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function fleetOf(files: Record<string, string | null> = {}) {
  const dir = writeFleet({ ...baseFleet, ...files });
  dirs.push(dir);
  return loadFleet(dir);
}

function facts(devices: DeviceFacts[], artifacts?: FleetFacts['artifacts']): FleetFacts {
  return { devices: new Map(devices.map((d) => [d.id, d])), artifacts };
}

const allKnown = (overrides: Partial<Record<string, Partial<DeviceFacts>>> = {}) =>
  facts([
    { id: PI4_A, deviceType: 'pi4-v3-arm64', artifactName: 'pi4-2026.10', ...overrides[PI4_A] },
    { id: PI4_B, deviceType: 'pi4-v3-arm64', artifactName: 'pi4-2026.10', ...overrides[PI4_B] },
    { id: PI3, deviceType: 'pi3-arm64', artifactName: 'pi3-2026.11', ...overrides[PI3] },
  ]);

const summary = (plan: Plan) => plan.devices.map((d) => `${d.id.slice(0, 8)} ${d.ring}(${d.ringSource}) ${d.desiredImage}`);

describe('planRing', () => {
  const cases: Array<{ name: string; files?: Record<string, string | null>; facts: FleetFacts; ring: string; devices: string[]; deployments?: Plan['deployments'] }> = [
    {
      name: 'canary holds the devices whose Git ring is canary',
      facts: allKnown(),
      ring: 'canary',
      devices: ['3fb4632b canary(git) pi4-2026.11'],
      deployments: [{ image: 'pi4-2026.11', devices: [PI4_A] }],
    },
    {
      name: 'production holds the rest, grouped by image',
      facts: allKnown(),
      ring: 'production',
      devices: ['50a28c2e production(git) pi3-2026.11', 'b8b311de production(git) pi4-2026.11'],
      deployments: [
        { image: 'pi3-2026.11', devices: [PI3] },
        { image: 'pi4-2026.11', devices: [PI4_B] },
      ],
    },
    {
      name: 'a ring reported by the device overrides Git',
      facts: allKnown({ [PI4_B]: { subscribedBranch: 'canary' }, [PI4_A]: { subscribedBranch: 'production' } }),
      ring: 'canary',
      devices: ['b8b311de canary(device) pi4-2026.11'],
    },
    {
      name: 'without any subscribed_branch a device follows production',
      files: { 'group_vars/all.yml': baseFleet['group_vars/all.yml'].replace('subscribed_branch: production\n', '') },
      facts: allKnown(),
      ring: 'production',
      devices: ['50a28c2e production(default) pi3-2026.11', 'b8b311de production(default) pi4-2026.11'],
    },
    {
      name: 'a host image override wins over the group image',
      files: { [`host_vars/${PI4_B}.yml`]: 'os_image:\n  - device_type: pi4-v3-arm64\n    image_name: pi4-2026.12-rc1\n' },
      facts: allKnown(),
      ring: 'production',
      devices: ['50a28c2e production(git) pi3-2026.11', 'b8b311de production(git) pi4-2026.12-rc1'],
      deployments: [
        { image: 'pi3-2026.11', devices: [PI3] },
        { image: 'pi4-2026.12-rc1', devices: [PI4_B] },
      ],
    },
    {
      name: 'a group image (group_vars/<group>.yml) wins over all.yml',
      files: { 'group_vars/pi3.yml': 'os_image:\n  - device_type: pi3-arm64\n    image_name: pi3-2026.12\n' },
      facts: allKnown(),
      ring: 'production',
      devices: ['50a28c2e production(git) pi3-2026.12', 'b8b311de production(git) pi4-2026.11'],
    },
  ];

  it.each(cases)('$name', ({ files, facts: f, ring, devices, deployments }) => {
    const plan = planRing(fleetOf(files), f, { ring, secrets: noSecrets });
    expect(plan.errors).toEqual([]);
    expect(summary(plan)).toEqual(devices);
    if (deployments) expect(plan.deployments).toEqual(deployments);
  });

  it('warns about devices unknown to Mender and leaves them out', () => {
    const plan = planRing(fleetOf(), facts([{ id: PI3, deviceType: 'pi3-arm64' }]), { ring: 'production', secrets: noSecrets });
    expect(summary(plan)).toEqual(['50a28c2e production(git) pi3-2026.11']);
    expect(plan.warnings.map((w) => `${w.file}:${w.line}: ${w.message}`)).toEqual([
      `inventory.yml:5: 2 devices listed in Git are unknown to Mender (not accepted or wrong id): ${PI4_A}, ${PI4_B}`,
    ]);
    expect(plan.errors).toEqual([]);
  });

  it('names a few of many unknown devices and counts the rest', () => {
    const unknown = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`);
    const inventory = baseFleet['inventory.yml'] + ['    lab:', '      hosts:', ...unknown.map((id) => `        ${id}:`), ''].join('\n');
    const plan = planRing(fleetOf({ 'inventory.yml': inventory }), allKnown(), { ring: 'production', secrets: noSecrets });
    expect(plan.warnings.map((w) => w.message)).toEqual([
      `40 devices listed in Git are unknown to Mender (not accepted or wrong id): ${unknown.slice(0, 5).join(', ')} and 35 more`,
    ]);
  });

  it('makes unknown devices an error when strict', () => {
    const plan = planRing(fleetOf(), facts([{ id: PI3, deviceType: 'pi3-arm64' }]), { ring: 'production', strict: true, secrets: noSecrets });
    expect(plan.errors).toHaveLength(1);
    expect(plan.warnings).toEqual([]);
  });

  it('reports a device type without an image, naming the file that sets os_image', () => {
    const plan = planRing(fleetOf(), allKnown({ [PI3]: { deviceType: 'pi3-armhf' } }), { ring: 'production', secrets: noSecrets });
    expect(plan.errors.map((e) => `${e.file}:${e.line}: ${e.message}`)).toEqual([
      `group_vars/all.yml:2: device ${PI3} is a pi3-armhf and os_image has no image for that device type; add {device_type: pi3-armhf, image_name: …} to os_image`,
    ]);
  });

  it('reports an image whose artifact does not support the device type', () => {
    const artifacts = new Map([['pi3-2026.11', { name: 'pi3-2026.11', deviceTypes: ['pi3-armhf'] }]]);
    const plan = planRing(fleetOf(), { ...allKnown(), artifacts }, { ring: 'production', secrets: noSecrets });
    expect(plan.errors.map((e) => e.message)).toEqual([
      `image pi3-2026.11 does not support device type pi3-arm64 (device ${PI3}); the artifact is compatible with pi3-armhf`,
    ]);
  });

  it('renders the configuration with desired_os_image and keeps env values secret', () => {
    const files = {
      'templates/kiosk.json': '{"kiosk_url": "{{ kiosk_url }}", "image": "{{ desired_os_image }}", "api_key": "key-{{ lookup(\'env\', \'KIOSK_KEY\') }}"}',
    };
    const secrets = { env: { KIOSK_KEY: 's3cr3t' }, lookupEnv: new Set(['KIOSK_KEY']), config: {}, secretConfigKeys: new Set<string>() };
    const plan = planRing(fleetOf(files), allKnown(), { ring: 'canary', secrets });
    const configuration = plan.devices[0].configuration!;
    expect(configuration.values).toEqual({ kiosk_url: 'https://example.org/canary', image: 'pi4-2026.11', api_key: 'key-s3cr3t' });
    expect(configuration.secretKeys).toEqual(['api_key']);
    // The hash identifies the configuration but a secret value change does not show in it.
    const other = planRing(fleetOf(files), allKnown(), { ring: 'canary', secrets: { ...secrets, env: { KIOSK_KEY: 'other' } } });
    expect(other.devices[0].configuration!.hash).toBe(configuration.hash);
    expect(JSON.stringify({ hash: configuration.hash })).not.toContain('s3cr3t');
  });

  it('marks a value from secret stack config as secret, a plain one as plain', () => {
    const files = { 'templates/kiosk.json': '{"kiosk_url": "{{ kiosk_url }}", "a": "{{ lookup(\'config\', \'apiKey\') }}", "b": "{{ lookup(\'config\', \'site\') }}"}' };
    const secrets = { env: {}, lookupEnv: new Set<string>(), config: { apiKey: 'k', site: 'zurich' }, secretConfigKeys: new Set(['apiKey']) };
    const configuration = planRing(fleetOf(files), allKnown(), { ring: 'canary', secrets }).devices[0].configuration!;
    expect(configuration.values).toMatchObject({ a: 'k', b: 'zurich' });
    expect(configuration.secretKeys).toEqual(['a']);
  });

  it('reports a template that fails for one device with its file and line', () => {
    const files = { 'templates/kiosk.json': '{\n  "kiosk_url": "{{ kiosk_address | mandatory }}"\n}\n' };
    const plan = planRing(fleetOf(files), allKnown(), { ring: 'canary', secrets: noSecrets });
    expect(plan.errors.map((e) => `${e.file}:${e.line}: ${e.message}`)).toEqual([
      `templates/kiosk.json:2: for device ${PI4_A}: does not render: "kiosk_address" is mandatory but not defined`,
    ]);
  });

  it('lets a null value through mandatory and prints it as nothing, as Ansible does', () => {
    const files = { [`host_vars/${PI4_A}.yml`]: 'subscribed_branch: canary\nconfiguration:\n  template: kiosk.json\n  parameters:\n    kiosk_url: ~\n' };
    const plan = planRing(fleetOf(files), allKnown(), { ring: 'canary', secrets: noSecrets });
    expect(plan.errors).toEqual([]);
    expect(plan.devices[0].configuration!.values).toEqual({ kiosk_url: '', image: 'pi4-2026.11' });
  });
});
