// The fleet plan as pure functions: (plan, the stack's last update, Mender's configurations,
// the gate) → the fleet plan → text and Markdown. No server; the 10,000-device case uses the
// benchmarks' generated fleet.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateFleet, newImage } from '../../bench/generated-fleet';
import { loadFleet } from '../../program/description/load';
import { AppliedDevice, changeReport, ChangeReport, ChangeReportInput, MenderConfiguration } from '../../program/change-report';
import { DeviceFacts, FleetFacts, Plan, planRing } from '../../program/pipeline/plan';
import { MARKDOWN_LIMIT, planMarkdown, planText } from '../../program/plan-report';
import { checkPromotion, RingDeployment } from '../../program/pipeline/gate';
import { baseFleet, writeFleet } from './fleet-files';

const PI4_A = '3fb4632b-96b9-475d-ac89-02255bd15b6f'; // canary in Git, reports production
const PI4_B = 'b8b311de-000e-4914-9a13-1d7e2e23bc5d'; // production, configured with a secret
const PI3 = '50a28c2e-3ee8-4559-a5b9-3ce47c881c5d'; // production, already on its image
const UNKNOWN = 'aaaaaaaa-0000-4000-8000-00000000000a'; // in Git, not in Mender
const GONE = 'bbbbbbbb-0000-4000-8000-00000000000b'; // applied last time, no longer in Git
const SECRET = 'runner-secret-value-1f3e';
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const canaryDeployment = (artifactName: string, statistics: Record<string, number>): RingDeployment => ({
  id: `dep-${artifactName}`,
  name: `canary:${artifactName}:1:abc`,
  artifactName,
  status: 'finished',
  created: '2026-11-20T10:00:00Z',
  statistics,
});

function smallFleet(): ChangeReportInput {
  const dir = writeFleet({
    ...baseFleet,
    'inventory.yml': baseFleet['inventory.yml'].replace('    pi3:\n', `        ${UNKNOWN}:\n    pi3:\n`),
    [`host_vars/${PI4_B}.yml`]: 'configuration:\n  template: runner.json\n',
    'templates/runner.json': '{"runner_labels": "pi4,arm64", "runner_token": "{{ lookup(\'env\', \'RUNNER_TOKEN\') }}"}',
  });
  dirs.push(dir);
  const fleet = loadFleet(dir);
  const secrets = { env: { RUNNER_TOKEN: SECRET }, lookupEnv: new Set(['RUNNER_TOKEN']), config: {}, secretConfigKeys: new Set<string>() };
  const devices: DeviceFacts[] = [
    { id: PI4_A, deviceType: 'pi4-v3-arm64', artifactName: 'pi4-2026.10', subscribedBranch: 'production' },
    { id: PI4_B, deviceType: 'pi4-v3-arm64', artifactName: 'pi4-2026.10' },
    { id: PI3, deviceType: 'pi3-arm64', artifactName: 'pi3-2026.11' },
  ];
  const facts: FleetFacts = { devices: new Map(devices.map((d) => [d.id, d])) };
  const plan = planRing(fleet, facts, { ring: 'production', secrets });
  const applied: Record<string, AppliedDevice> = {
    [PI4_B]: { ring: 'production', desiredImage: 'pi4-2026.10', configurationHash: 'old' },
    [PI3]: { ring: 'production', desiredImage: 'pi3-2026.11', configurationHash: null },
    [GONE]: { ring: 'production', desiredImage: 'pi3-2026.11', configurationHash: null },
  };
  const configurations = new Map<string, MenderConfiguration>([
    [PI4_B, { configured: { runner_labels: 'pi4', runner_url: 'https://old' }, reported: { runner_labels: 'pi4', runner_url: 'https://old' } }],
    [PI4_A, { configured: {}, reported: {} }],
  ]);
  const gate = { sourceRing: 'canary', ...checkPromotion(plan, 'canary', [canaryDeployment('pi4-2026.11', { failure: 1 })]) };
  return { stack: 'production', ring: 'production', issues: [], fleet, facts, plan, applied, configurations, gate };
}

describe('fleetPlan', () => {
  it('says per image how many devices get it, by device type and group, and what they run now', () => {
    const plan = changeReport(smallFleet());
    expect(plan.images).toEqual([
      { image: 'pi3-2026.11', devices: [], onlyWithRefresh: [], alreadyRunning: 1, byTypeAndGroup: [], from: [] },
      {
        image: 'pi4-2026.11',
        devices: [PI4_A, PI4_B],
        onlyWithRefresh: [],
        alreadyRunning: 0,
        byTypeAndGroup: [{ deviceType: 'pi4-v3-arm64', group: 'pi4', devices: 2 }],
        from: [{ image: 'pi4-2026.10', devices: 2 }],
      },
    ]);
    expect(plan.deviceCount).toBe(3);
  });

  it('tells what a plain up deploys from what only up --refresh would: a plain up diffs against the stack\'s last record, not Mender now', () => {
    // The stack last recorded PI3 as running pi3-2026.11 (not out of sync); it has been reflashed since.
    const input = smallFleet();
    const reflashed: ChangeReportInput = {
      ...input,
      facts: { devices: new Map([...input.facts!.devices].map(([id, d]) => [id, id === PI3 ? { ...d, artifactName: 'pi3-2026.01' } : d])) },
    };
    reflashed.plan = planRing(reflashed.fleet!, reflashed.facts!, { ring: 'production', secrets: { env: { RUNNER_TOKEN: SECRET }, lookupEnv: new Set(['RUNNER_TOKEN']), config: {}, secretConfigKeys: new Set<string>() } });
    const rollout = { maxFailureRatio: 0, timeoutSeconds: 900, pollSeconds: 2 };
    const recorded = (deployments: [string, { devices: string[]; outOfSync: string[]; rollout?: unknown }][]) => ({ deployments: new Map(deployments.map(([k, v]) => [k, { namePrefix: 'production', ...v }])), rollout });
    const pi3 = changeReport({ ...reflashed, recorded: recorded([['pi3-2026.11', { devices: [PI3], outOfSync: [], rollout: { pollSeconds: 2, timeoutSeconds: 900, maxFailureRatio: 0 } }]]) }).images[0];
    expect(pi3).toMatchObject({ image: 'pi3-2026.11', devices: [PI3], onlyWithRefresh: [PI3] });
    // The pi4 image is new to the stack: a plain up creates its deployment, for every device that needs it.
    const both = changeReport({ ...reflashed, recorded: recorded([['pi3-2026.11', { devices: [PI3], outOfSync: [], rollout }]]) });
    expect(both.images[1]).toMatchObject({ image: 'pi4-2026.11', onlyWithRefresh: [] });
    expect(planText(both)).toContain('  only with up --refresh: 1 of them (pi3-2026.11): they run another image than the stack recorded at its last refresh, and a plain up leaves them\n');
    // A plain up does act when the resource changes anyway: the device was recorded out of sync,
    // the device list changed, or the rollout settings changed.
    for (const state of [
      { devices: [PI3], outOfSync: [PI3], rollout },
      { devices: [PI3, GONE], outOfSync: [], rollout },
      { devices: [PI3], outOfSync: [], rollout: { ...rollout, timeoutSeconds: 60 } },
    ]) {
      expect(changeReport({ ...reflashed, recorded: recorded([['pi3-2026.11', state]]) }).images[0].onlyWithRefresh).toEqual([]);
    }
    // Without the stack's record (never applied, or not read) nothing is claimed for refresh alone.
    expect(changeReport(reflashed).images[0].onlyWithRefresh).toEqual([]);
    expect(planText(changeReport(reflashed))).not.toContain('only with up --refresh');
  });

  it('names the devices joining and leaving the ring and why', () => {
    const plan = changeReport(smallFleet());
    expect(plan.firstApply).toBe(false);
    expect(plan.joining).toEqual([{ device: PI4_A, reason: 'device', ring: 'production' }]);
    expect(plan.leaving).toEqual([{ device: GONE, reason: 'removed-from-git' }]);
  });

  it('tells keys added, removed and changed against what Mender holds, secret ones by name only', () => {
    const input = smallFleet();
    const plan = changeReport(input);
    expect(plan.configurations).toEqual([
      { device: PI4_A, added: ['image', 'kiosk_url'], removed: [], changed: [], secret: [], created: true },
      { device: PI4_B, added: ['runner_token'], removed: ['runner_url'], changed: ['runner_labels'], secret: ['runner_token'], created: false },
    ]);
    // A device that already reports what Git wants has no change.
    const desired = input.plan!.devices.find((d) => d.id === PI4_B)!.configuration!.values;
    const same = changeReport({ ...input, configurations: new Map([...input.configurations, [PI4_B, { configured: desired, reported: desired }]]) });
    expect(same.configurations.map((c) => c.device)).toEqual([PI4_A]);
  });

  it('lists devices in Git that Mender does not know, and the gate refusing an image', () => {
    const plan = changeReport(smallFleet());
    expect(plan.unknownToMender).toEqual([UNKNOWN]);
    expect(plan.gate).toEqual({
      kind: 'checked',
      sourceRing: 'canary',
      passed: [],
      overridden: [],
      refused: [{ image: 'pi4-2026.11', evidence: '1 of 1 devices failed on canary (deployment dep-pi4-2026.11)', devices: 2 }],
      invalidOverrides: [],
    });
    expect(plan.stops).toEqual(['the promotion gate refuses pi4-2026.11: an up would stop before anything reaches Mender']);
  });

  it('reports a passing gate and an override with its reason', () => {
    const input = smallFleet();
    const finished = [canaryDeployment('pi4-2026.11', { success: 1 })];
    expect(changeReport({ ...input, gate: { sourceRing: 'canary', ...checkPromotion(input.plan!, 'canary', finished) } }).gate).toMatchObject({
      passed: [{ image: 'pi4-2026.11', devices: 2 }],
      refused: [],
    });
    const overridden = changeReport({ ...input, gate: { sourceRing: 'canary', ...checkPromotion(input.plan!, 'canary', [], [{ image: 'pi4-2026.11', reason: 'bench board' }]) } });
    expect(overridden.gate).toMatchObject({ passed: [], overridden: [{ image: 'pi4-2026.11', reason: 'bench board', evidence: 'no canary deployment of it' }] });
    expect(overridden.stops).toEqual([]);
  });

  it('on a first apply every device of the ring joins', () => {
    const plan = changeReport({ ...smallFleet(), applied: undefined });
    expect(plan.firstApply).toBe(true);
    expect(plan.joining.map((m) => m.device)).toEqual([PI4_A, PI3, PI4_B]);
    expect(plan.leaving).toEqual([]);
  });

  it('stops at the errors of a fleet that cannot be planned', () => {
    const plan = changeReport({ stack: 'canary', ring: 'canary', issues: [{ file: 'inventory.yml', line: 3, message: 'bad id' }], configurations: new Map() });
    expect(plan.errors).toEqual(['inventory.yml:3: bad id']);
    expect(plan.stops).toEqual(['the fleet has 1 error (below): an up would stop before anything reaches Mender']);
    expect(plan.gate).toEqual({ kind: 'not-checked' });
  });
});

describe('the plan as text and Markdown', () => {
  it('reads as a fleet plan and never shows a configuration value', () => {
    const plan = changeReport(smallFleet());
    const text = planText(plan);
    expect(text).toBe(
      [
        'Fleet plan of ring production (stack production)',
        'STOP: the promotion gate refuses pi4-2026.11: an up would stop before anything reaches Mender',
        '  images: 2 devices get a new image (1 of 2 images); 3 devices in the ring',
        '  ring: 1 device joins, 1 device leaves',
        '  configuration: changes on 2 devices',
        '  unknown to Mender: 1 device listed in Git',
        '  promotion gate: refuses 1 image that did not finish on canary',
        '',
        'Warnings',
        `  inventory.yml:7: 1 device listed in Git is unknown to Mender (not accepted or wrong id): ${UNKNOWN}`,
        '',
        'Image pi3-2026.11: 0 devices get it, 1 already runs it',
        '',
        'Image pi4-2026.11: 2 devices get it, 0 already run it',
        '  from pi4-2026.10: 2',
        '  pi4-v3-arm64 in pi4: 2',
        `  ${PI4_A}`,
        `  ${PI4_B}`,
        '',
        'Joining the ring production',
        `  ${PI4_A}: the device reports subscribed_branch production`,
        '',
        'Leaving the ring production',
        `  ${GONE}: no longer listed in Git`,
        '',
        'Configuration (keys only; values are not shown)',
        `  ${PI4_A}: set image, kiosk_url`,
        `  ${PI4_B}: added runner_token (secret); changed runner_labels; removed runner_url`,
        '',
        'Listed in Git, unknown to Mender',
        `  ${UNKNOWN}`,
        '',
        'Promotion gate',
        '  refused: pi4-2026.11 (wanted by 2 devices): 1 of 1 devices failed on canary (deployment dep-pi4-2026.11)',
        '',
      ].join('\n'),
    );
    const markdown = planMarkdown(plan);
    for (const out of [text, markdown]) {
      expect(out).not.toContain(SECRET);
      expect(out).not.toContain('https://example.org');
    }
    expect(markdown).toContain('| `pi4-2026.11` | 2 | 0 | `pi4-2026.10`: 2 |');
    expect(markdown).toContain('> [!CAUTION]\n> the promotion gate refuses pi4-2026.11');
    expect(markdown).toContain(`- \`${PI4_B}\`: added runner_token (secret); changed runner_labels; removed runner_url`);
  });

  it('collapses what does not fit into counts, keeping every <details> closed', () => {
    const plan = changeReport({ ...smallFleet(), applied: undefined });
    const many = Array.from({ length: 400 }, (_, i) => `${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`);
    const big = { ...plan, unknownToMender: many };
    const full = planMarkdown(big);
    expect(full).toContain(`- \`${many[399]}\``);
    const cut = planMarkdown(big, { limit: 6000 });
    expect(cut.length).toBeLessThan(6000);
    expect(cut).toMatch(/- … and 3\d\d more \(run `npx fleet plan --stack production` to list them all\)/);
    expect(cut.match(/<details>/g)?.length).toBe(cut.match(/<\/details>/g)?.length);
    // Smaller lists keep every line: one huge list does not push them out.
    expect(cut).toContain(`- \`${PI4_A}\`: set image, kiosk_url`);
  });
});

describe('a 10,000-device ring with an image change and configuration changes', () => {
  let plan: Plan;
  let model: ChangeReport;

  beforeAll(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-plan-10k-'));
    dirs.push(dir);
    const { world } = generateFleet(10_000, dir, 'unused-token');
    const fleet = loadFleet(dir);
    const facts: FleetFacts = {
      devices: new Map(
        world.devices.map((d) => [d.id, { id: d.id, deviceType: d.device_type, artifactName: d.artifact_name, subscribedBranch: d.attributes?.subscribed_branch as string | undefined }]),
      ),
    };
    plan = planRing(fleet, facts, { ring: 'production', secrets: { env: {}, lookupEnv: new Set(['GITHUB_RUNNER_TOKEN']), config: {}, secretConfigKeys: new Set<string>() } });
    // Mender holds last month's configuration: os_image names the old image, one in four lacks kiosk_rotation.
    const configurations = new Map<string, MenderConfiguration>();
    plan.devices.forEach((d, i) => {
      if (!d.configuration) return;
      const old: Record<string, string> = { ...d.configuration.values };
      if ('os_image' in old) old.os_image = d.runningImage ?? '';
      if (i % 4 === 0) delete old.kiosk_rotation;
      configurations.set(d.id, { configured: old, reported: old });
    });
    // The last update had all but 50 of the devices.
    const applied = Object.fromEntries(plan.devices.slice(50).map((d) => [d.id, { ring: 'production', desiredImage: d.runningImage }]));
    const gate = { sourceRing: 'canary', ...checkPromotion(plan, 'canary', world.artifacts.map((a) => canaryDeployment(a.name, { success: 3 }))) };
    model = changeReport({ stack: 'production', ring: 'production', issues: [], fleet, facts, plan, applied, configurations, gate });
  });

  it('fits a pull request comment and says how many devices get which image', () => {
    expect(plan.errors).toEqual([]);
    const markdown = planMarkdown(model);
    expect(markdown.length).toBeLessThan(MARKDOWN_LIMIT);
    // Counted from the planner's devices, not from the fleet plan.
    const getting = new Map<string, number>();
    for (const d of plan.devices) if (d.runningImage !== d.desiredImage) getting.set(d.desiredImage, (getting.get(d.desiredImage) ?? 0) + 1);
    expect(getting.size).toBe(5);
    for (const [image, count] of getting) {
      expect(count).toBeGreaterThan(1000);
      expect(markdown).toContain(`| \`${image}\` | ${count.toLocaleString('en')} |`);
    }
    expect(markdown).toContain(`| \`pi4-v3-arm64\` | \`pi4_north\` |`);
    expect(markdown).toContain(`${model.configurations.length.toLocaleString('en')} devices with configuration changes`);
    expect(markdown).toMatch(/\| `os_image` \| 0 \| [\d,]+ \| 0 \|/);
    expect(markdown).toContain('50 devices joining');
    expect(markdown).toMatch(/- … and [\d,]+ more \(run `npx fleet plan --stack production` to list them all\)/);
    expect(markdown).toContain(newImage('pi4'));
    expect(markdown.match(/<details>/g)?.length).toBe(markdown.match(/<\/details>/g)?.length);
  });
});
