// The pipeline's stages without a server: the stack's settings (every fleet: key the program
// reads), the validated fleet's settled values, the gate's deciding deployments, and planning
// and gating as pure functions of (validated fleet, facts, settings).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatIssue } from '../../program/description/issues';
import type { Deployment } from '../../provider/mender';
import { candidateImages, decidingDeployments, PipelineFacts } from '../../program/pipeline/facts';
import { planAndGate, validateStack } from '../../program/pipeline/run';
import { readStackSettings, settingsSummary, StackSettings } from '../../program/pipeline/settings';
import { validateDescription } from '../../program/pipeline/validated-fleet';
import { planRing } from '../../program/pipeline/plan';
import { ringVerdict, RingDeployment } from '../../program/pipeline/gate';
import { baseFleet, writeFleet } from './fleet-files';

const PI4_A = '3fb4632b-96b9-475d-ac89-02255bd15b6f';
const PI4_B = 'b8b311de-000e-4914-9a13-1d7e2e23bc5d';
const PI3 = '50a28c2e-3ee8-4559-a5b9-3ce47c881c5d';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const settingsOf = (values: Record<string, string>, secretKeys: string[] = [], env: NodeJS.ProcessEnv = {}) =>
  readStackSettings({ stack: 'canary', values, secretKeys: new Set(secretKeys) }, { projectDir: '/project', env });

describe('the stack settings', () => {
  it.each<[string, Record<string, string>, Partial<StackSettings>]>([
    ['no keys: the stack name as ring, fleet/ and the rollout defaults', {}, { ring: 'canary', fleetDir: '/project/fleet', strict: false, templates: undefined, defaultRing: undefined, promoteFrom: undefined, promotionOverrides: [], devicesPerSet: undefined, rollout: { maxFailureRatio: 0, timeoutSeconds: 900, pollSeconds: 2 } }],
    ['fleet:branch', { 'fleet:branch': 'main' }, { ring: 'main' }],
    ['fleet:path', { 'fleet:path': 'other/fleet' }, { fleetDir: '/project/other/fleet' }],
    ['fleet:strict', { 'fleet:strict': 'true' }, { strict: true }],
    ['fleet:templates', { 'fleet:templates': 'roles/x/templates' }, { templates: 'roles/x/templates' }],
    ['fleet:defaultRing', { 'fleet:defaultRing': 'canary' }, { defaultRing: 'canary' }],
    ['fleet:promoteFrom', { 'fleet:promoteFrom': 'canary' }, { promoteFrom: 'canary' }],
    ['fleet:promotionOverride', { 'fleet:promotionOverride': '[{"image":"pi3-2026.11","reason":"no canary pi3"}]' }, { promotionOverrides: [{ image: 'pi3-2026.11', reason: 'no canary pi3' }] }],
    ['fleet:maxFailurePercent, rolloutTimeoutSeconds, pollMilliseconds', { 'fleet:maxFailurePercent': '25', 'fleet:rolloutTimeoutSeconds': '60', 'fleet:pollMilliseconds': '100' }, { rollout: { maxFailureRatio: 0.25, timeoutSeconds: 60, pollSeconds: 0.1 } }],
    ['fleet:devicesPerConfigurationSet', { 'fleet:devicesPerConfigurationSet': '10' }, { devicesPerSet: 10 }],
    ['empty values are unset (Pulumi.yaml defaults them to "")', { 'fleet:branch': '', 'fleet:path': '', 'fleet:templates': '', 'fleet:promoteFrom': '' }, { ring: 'canary', fleetDir: '/project/fleet', templates: undefined, promoteFrom: undefined }],
  ])('%s', (_key, values, expected) => {
    const settings = settingsOf(values);
    expect(settings.issues).toEqual([]);
    expect(settings).toMatchObject(expected);
  });

  it('fleet:rollout: the policy the MenderDeployments get, and the old keys with a warning naming the new one', () => {
    const policy = { waves: [{ devices: 1 }, { percent: 10 }, { percent: 100 }], soakMinutes: 60, maxFailurePercent: 5, minDevicesJudged: 3, deviceTimeoutMinutes: 240, onFailure: 'rollback', paused: false, waitMinutes: 10 };
    const settings = settingsOf({ 'fleet:rollout': JSON.stringify(policy) });
    expect(settings.issues).toEqual([]);
    expect(settings.policy).toEqual(policy);
    expect(settingsOf({}).policy).toBeUndefined();
    expect(settingsOf({ 'fleet:maxFailurePercent': '20' }).warnings).toEqual([
      { file: 'Pulumi.canary.yaml', message: 'fleet:maxFailurePercent is replaced by fleet:rollout.maxFailurePercent; it still applies' },
    ]);
  });

  it('fleet:rollout: a mistake is an issue naming the stack file, its line and the key; nothing is planned', () => {
    const projectDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-rollout-settings-'));
    try {
      fs.writeFileSync(path.join(projectDir, 'Pulumi.canary.yaml'), ['config:', '  fleet:branch: canary', '  fleet:rollout:', '    waves: [{devices: 5}, {devices: 2}]', '    soakMinute: 60', ''].join('\n'));
      const value = JSON.stringify({ waves: [{ devices: 5 }, { devices: 2 }], soakMinute: 60 });
      const settings = readStackSettings({ stack: 'canary', values: { 'fleet:rollout': value }, secretKeys: new Set() }, { projectDir, env: {} });
      expect(settings.issues.map(formatIssue)).toEqual([
        'Pulumi.canary.yaml:5: fleet:rollout.soakMinute is not a rollout setting; the settings are waves, soakMinutes, maxFailurePercent, minDevicesJudged, deviceTimeoutMinutes, onFailure, paused, waitMinutes',
        'Pulumi.canary.yaml:4: fleet:rollout.waves[1] must target more than wave 1 (5 devices): the targets are cumulative',
      ]);
      expect(settings.issues.every((issue) => issue.key === 'fleet:rollout')).toBe(true);
      expect(validateStack(settings).stop).toMatchObject({ stage: 'settings', summary: "the stack's fleet:rollout is not valid; nothing was sent to Mender" });
    } finally {
      fs.rmSync(projectDir, { recursive: true, force: true });
    }
  });

  it('takes FLEET_PATH when fleet:path is unset, and fleet:path over it', () => {
    expect(settingsOf({}, [], { FLEET_PATH: '/elsewhere' }).fleetDir).toBe('/elsewhere');
    expect(settingsOf({ 'fleet:path': 'mine' }, [], { FLEET_PATH: '/elsewhere' }).fleetDir).toBe('/project/mine');
  });

  it('hands the templates fleet:lookupEnv and the fleet: keys, secret ones as secret', () => {
    const env = { GITHUB_RUNNER_TOKEN: 't' };
    const { secrets } = settingsOf({ 'fleet:lookupEnv': '["GITHUB_RUNNER_TOKEN"]', 'fleet:site': 'lab', 'fleet:apiKey': 'k', 'mender:token': 'x' }, ['fleet:apiKey', 'mender:token'], env);
    expect([...secrets.lookupEnv]).toEqual(['GITHUB_RUNNER_TOKEN']);
    expect(secrets.lookupEnvSource).toBe('Pulumi.canary.yaml or Pulumi.yaml');
    expect(secrets.env).toBe(env);
    expect(secrets.config).toMatchObject({ site: 'lab', apiKey: 'k' });
    expect(secrets.config).not.toHaveProperty('token');
    expect([...secrets.secretConfigKeys]).toEqual(['apiKey']);
  });

  it('reads the mender: keys for the program\'s client, else the environment', () => {
    expect(settingsOf({ 'mender:serverUrl': 'https://mender.example' }, [], { MENDER_ACCESS_TOKEN: 'pat' }).mender).toMatchObject({ serverUrl: 'https://mender.example', token: 'pat' });
  });

  it('refuses a credential in fleet:lookupEnv, naming the key in the summary as before', () => {
    const settings = settingsOf({ 'fleet:lookupEnv': '["MENDER_ACCESS_TOKEN"]' });
    expect(settings.issues.map((i) => i.message)).toEqual([expect.stringContaining('fleet:lookupEnv cannot allow MENDER_ACCESS_TOKEN')]);
    expect(settings.issues[0].file).toBe("Pulumi.canary.yaml (or Pulumi.yaml's default)");
    expect(settingsSummary(settings.issues)).toBe("the stack's fleet:lookupEnv is not valid; nothing was sent to Mender");
  });

  it('says which keys cannot be read instead of throwing', () => {
    const settings = settingsOf({ 'fleet:strict': 'yes', 'fleet:rolloutTimeoutSeconds': 'long', 'fleet:promotionOverride': '{"image":"x"}' });
    expect(settings.issues.map((i) => `${i.file}: ${i.message}`)).toEqual([
      'Pulumi.canary.yaml: fleet:promotionOverride must be a list of {image, reason}',
      'Pulumi.canary.yaml: fleet:rolloutTimeoutSeconds must be a number (got "long")',
      'Pulumi.canary.yaml: fleet:strict must be true or false (got "yes")',
    ]);
    expect(settingsSummary(settings.issues)).toBe("the stack's fleet:promotionOverride, fleet:rolloutTimeoutSeconds, fleet:strict are not valid; nothing was sent to Mender");
    expect(validateStack(settings).stop).toMatchObject({ stage: 'settings' });
  });
});

describe('the validated fleet', () => {
  const fleet = (files: Record<string, string>) => {
    const dir = writeFleet({ ...baseFleet, ...files });
    dirs.push(dir);
    return dir;
  };
  const noSecrets = { env: {}, lookupEnv: new Set<string>(), config: {}, secretConfigKeys: new Set<string>() };

  it('settles what reads no fact of Mender, and leaves to the planner what does', () => {
    const dir = fleet({
      [`host_vars/${PI4_B}.yml`]: 'configuration:\n  template: typed.json\n',
      'templates/typed.json': '{"type": "{{ device_type }}"}',
    });
    const validation = validateDescription(dir, noSecrets);
    expect(validation.issues).toEqual([]);
    const resolved = validation.fleet!.resolved;
    expect(resolved.get(PI3)).toEqual({ gitRing: { value: 'production' }, osImages: { value: expect.any(Array) }, configuration: { value: undefined } });
    expect(resolved.get(PI4_B)!.configuration).toBeUndefined();
    expect(resolved.get(PI4_B)!.gitRing).toEqual({ value: 'production' });
  });

  it('counts asking whether a fact is defined as reading it', () => {
    const dir = fleet({ [`host_vars/${PI3}.yml`]: "subscribed_branch: \"{{ 'canary' if desired_os_image is defined else 'production' }}\"\n" });
    const validation = validateDescription(dir, noSecrets);
    expect(validation.issues).toEqual([]);
    expect(validation.fleet!.resolved.get(PI3)!.gitRing).toBeUndefined();
    expect(validation.fleet!.resolved.get(PI4_B)!.gitRing).toEqual({ value: 'production' });
  });

  it('plans with the settled values and renders the rest with the facts', () => {
    const dir = fleet({
      [`host_vars/${PI4_B}.yml`]: 'configuration:\n  template: typed.json\n',
      'templates/typed.json': '{"type": "{{ device_type }}", "image": "{{ desired_os_image }}"}',
      'group_vars/pi3.yml': 'configuration:\n  template: fixed.json\n',
      'templates/fixed.json': '{"url": "{{ kiosk_url }}"}',
    });
    const settings = { ...settingsOf({ 'fleet:path': dir }), ring: 'production' };
    const { validated } = validateStack(settings);
    const facts: PipelineFacts = {
      devices: new Map([
        [PI4_A, { id: PI4_A, deviceType: 'pi4-v3-arm64' }],
        [PI4_B, { id: PI4_B, deviceType: 'pi4-v3-arm64' }],
        [PI3, { id: PI3, deviceType: 'pi3-arm64' }],
      ]),
    };
    const { plan, stop } = planAndGate(validated!, facts, settings);
    expect(stop).toBeUndefined();
    expect(Object.fromEntries(plan!.devices.map((d) => [d.id, d.configuration?.values]))).toEqual({
      [PI4_B]: { type: 'pi4-v3-arm64', image: 'pi4-2026.11' },
      [PI3]: { url: 'https://example.org' },
    });
  });

  it('does not render a settled configuration again', () => {
    const dir = fleet({ 'group_vars/pi3.yml': 'configuration:\n  template: fixed.json\n', 'templates/fixed.json': '{"url": "{{ kiosk_url }}"}' });
    const { fleet: validated } = validateDescription(dir, noSecrets);
    const settled = validated!.resolved.get(PI3)!.configuration!.value!;
    // A stand-in for what validation rendered: the plan holds it, so the planner did not render.
    const resolved = new Map(validated!.resolved);
    resolved.set(PI3, { ...resolved.get(PI3), configuration: { value: { ...settled, rendered: { values: { url: 'as validated' }, secretKeys: [] } } } });
    const facts = { devices: new Map([[PI3, { id: PI3, deviceType: 'pi3-arm64' }]]) };
    const plan = planRing(validated!.description, facts, { ring: 'production', secrets: noSecrets, resolved });
    expect(plan.devices[0].configuration?.values).toEqual({ url: 'as validated' });
  });

  it('puts a device naming no ring in fleet:defaultRing', () => {
    const dir = fleet({ 'group_vars/all.yml': baseFleet['group_vars/all.yml'].replace('subscribed_branch: production\n', '') });
    const facts: PipelineFacts = { devices: new Map([[PI3, { id: PI3, deviceType: 'pi3-arm64' }]]) };
    const plan = (values: Record<string, string>) => {
      const settings = settingsOf({ 'fleet:path': dir, ...values });
      return planAndGate(validateStack(settings).validated!, facts, settings).plan!.devices.map((d) => [d.id, d.ringSource]);
    };
    expect(plan({ 'fleet:defaultRing': 'canary' })).toEqual([[PI3, 'default']]);
    expect(plan({})).toEqual([]);
  });
});

describe("the gate's evidence", () => {
  const deployment = (name: string, artifact: string, status: Deployment['status'], created: string): Deployment =>
    ({ id: `${name}@${created}`, name, artifact_name: artifact, status, created, type: 'software' }) as Deployment;

  it('keeps per image the newest and the newest finished deployment of the source ring, which decide the verdict', () => {
    const all = [
      deployment('canary:os-2:1:aaa', 'os-2', 'finished', '2026-11-01T00:00:00Z'),
      deployment('canary:os-2:2:bbb', 'os-2', 'finished', '2026-11-02T00:00:00Z'),
      deployment('canary:os-2:3:ccc', 'os-2', 'inprogress', '2026-11-03T00:00:00Z'),
      deployment('canary:os-3:1:ddd', 'os-3', 'inprogress', '2026-11-03T00:00:00Z'),
      deployment('production:os-2:1:eee', 'os-2', 'finished', '2026-11-04T00:00:00Z'),
      deployment('canary:os-2:1:fff', 'os-9', 'finished', '2026-11-04T00:00:00Z'),
      deployment('canary:os-4:1:ggg', 'os-4', 'finished', '2026-11-04T00:00:00Z'),
    ];
    const kept = decidingDeployments('canary', all, new Set(['os-2', 'os-3', 'os-9']));
    expect(kept.map((d) => d.id).sort()).toEqual(['canary:os-2:2:bbb@2026-11-02T00:00:00Z', 'canary:os-2:3:ccc@2026-11-03T00:00:00Z', 'canary:os-3:1:ddd@2026-11-03T00:00:00Z']);

    const withStats = (ds: Deployment[]): RingDeployment[] => ds.map((d) => ({ id: d.id, name: d.name, artifactName: d.artifact_name, status: d.status, created: d.created, statistics: { success: 1 } }));
    for (const image of ['os-2', 'os-3', 'os-9']) expect(ringVerdict('canary', image, withStats(kept))).toBe(ringVerdict('canary', image, withStats(all)));
  });

  it('counts every image when some device\'s images depend on Mender\'s facts', () => {
    const dir = writeFleet({ ...baseFleet, 'group_vars/pi3.yml': 'os_image:\n  - device_type: pi3-arm64\n    image_name: "pi3-{{ device_type }}"\n' });
    dirs.push(dir);
    const validation = validateDescription(dir, { env: {}, lookupEnv: new Set(), config: {}, secretConfigKeys: new Set() });
    expect(candidateImages(validation.fleet!)).toBeUndefined();
    const plain = writeFleet(baseFleet);
    dirs.push(plain);
    expect([...candidateImages(validateDescription(plain, { env: {}, lookupEnv: new Set(), config: {}, secretConfigKeys: new Set() }).fleet!)!].sort()).toEqual(['pi3-2026.11', 'pi4-2026.11']);
  });
});
