// Audit, status and the promotion gate through the real engine and the root program, against
// the emulator, over six updates of two ring stacks: an image rolled to canary, promoted to
// production, an image refused by the gate and let through by a recorded override, a
// configuration change with a new secret, and a drift corrected on canary.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { auditEntries } from '../../program/audit/entries';
import { formatAudit } from '../../program/audit/report';
import { loadAuditUpdates } from '../../cli/audit-source';
import { ringStatus } from '../../cli/status';
import { EmulatorHandle, emulatorFor, mutating } from '../helpers/emulator';
import { pulumiWorkspace, PulumiWorkspace, repoRoot, fleetCli } from '../helpers/pulumi';
import { step } from '../helpers/step';

const TOKEN = 'audit-test-token-7d1f';
const A = 'a1a1a1a1-0000-4000-8000-00000000000a'; // canary, kiosk
const B = 'b2b2b2b2-0000-4000-8000-00000000000b'; // production, runner with a secret token
const C = 'c3c3c3c3-0000-4000-8000-00000000000c'; // production, pi3

const world = {
  artifacts: [
    { name: 'pi4-2026.10', device_types: ['pi4-v3-arm64'] },
    { name: 'pi4-2026.11', device_types: ['pi4-v3-arm64'] },
    { name: 'pi3-2026.10', device_types: ['pi3-arm64'] },
    { name: 'pi3-2026.11', device_types: ['pi3-arm64'] },
  ],
  devices: [
    { id: A, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10' },
    { id: B, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10' },
    { id: C, device_type: 'pi3-arm64', artifact_name: 'pi3-2026.10' },
  ],
  tokens: [TOKEN],
  users: [],
};

const allYml = (pi4: string, pi3: string) =>
  ['subscribed_branch: production', 'os_image:', '  - device_type: pi4-v3-arm64', `    image_name: ${pi4}`, '  - device_type: pi3-arm64', `    image_name: ${pi3}`, ''].join('\n');
const runnerYml = (labels: string[]) => ['configuration:', '  template: runner.json', '  parameters:', `    runner_labels: [${labels.join(', ')}]`, ''].join('\n');

const fleetFiles: Record<string, string> = {
  'inventory.yml': ['all:', '  children:', '    pi4:', '      hosts:', `        ${A}:`, `        ${B}:`, '    pi3:', '      hosts:', `        ${C}:`, ''].join('\n'),
  'group_vars/all.yml': allYml('pi4-2026.10', 'pi3-2026.10'),
  [`host_vars/${A}.yml`]: ['subscribed_branch: canary', 'configuration:', '  template: kiosk.json', '  parameters:', '    kiosk_url: https://example.org/canary', ''].join('\n'),
  [`host_vars/${B}.yml`]: runnerYml(['pi4', 'arm64']),
  'templates/kiosk.json': '{\n  "kiosk_url": "{{ kiosk_url | mandatory }}",\n  "os_image": "{{ desired_os_image }}"\n}\n',
  'templates/runner.json': '{\n  "runner_labels": "{{ runner_labels | join(\',\') }}",\n  "runner_token": "{{ lookup(\'env\', \'GITHUB_RUNNER_TOKEN\') }}"\n}\n',
};

const git = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();

/** Timestamps and the commit line depend on the run; the test checks them apart and masks them here. */
function normalised(text: string): string {
  return text.replace(/^#(\d+) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}commit [0-9a-f]{7}( \(with uncommitted changes\))? by [^"]*? {2}"/gm, '#$1 <time>  commit <head> by <author>  "');
}

describe('audit, status and promotion gate over several updates', () => {
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let work: string;
  let fleetDir: string;
  const stackFiles = ['Pulumi.canary.yaml', 'Pulumi.production.yaml'].map((f) => [f, fs.readFileSync(path.join(repoRoot, f), 'utf8')] as const);

  /** The ring's stack file with fast polling (and extra lines), so the tracked one stays untouched. */
  const configFile = (stack: string, extra: string[] = []) => {
    const file = path.join(work, `Pulumi.${stack}.${extra.length}.yaml`);
    const salt = /^encryptionsalt: .*$/m.exec(fs.readFileSync(path.join(repoRoot, `Pulumi.${stack}.yaml`), 'utf8'))![0];
    fs.writeFileSync(file, ['config:', `  fleet:branch: ${stack}`, '  fleet:pollMilliseconds: 100', ...extra.map((l) => `  ${l}`), salt, ''].join('\n'));
    return file;
  };
  const up = (stack: string, message: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) =>
    ws.ok(['up', '--yes', '--skip-preview', '--stack', stack, '--config-file', configFile(stack, extra), '--message', message], { env });
  const writeFleet = (name: string, text: string) => fs.writeFileSync(path.join(fleetDir, name), text);

  beforeAll(async () => {
    emu = await emulatorFor(world, TOKEN);
    ws = pulumiWorkspace();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-audit-'));
    fleetDir = path.join(work, 'fleet');
    for (const [name, text] of Object.entries(fleetFiles)) {
      fs.mkdirSync(path.dirname(path.join(fleetDir, name)), { recursive: true });
      fs.writeFileSync(path.join(fleetDir, name), text);
    }
    // The root stack files carry the salt of the local demo passphrase; Mender and the fleet
    // come from the environment, never from `config set` into tracked files.
    Object.assign(ws.env, {
      PULUMI_CONFIG_PASSPHRASE: 'mender-fleet-local-demo',
      MENDER_SERVER_URL: emu.emulator.url,
      MENDER_ACCESS_TOKEN: TOKEN,
      FLEET_PATH: fleetDir,
      GITHUB_RUNNER_TOKEN: 'runner-token-1',
    });
    await ws.ok(['stack', 'init', 'canary']);
    await ws.ok(['stack', 'init', 'production']);
  });

  afterAll(async () => {
    for (const stack of ['canary', 'production']) await ws?.run(['stack', 'rm', stack, '--yes', '--force', '--preserve-config']);
    ws?.dispose();
    await emu?.emulator.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('two rings over six updates: the gate, a promotion, an override, a drift, then their audit', async () => {
    await step('applies the first version of both rings', async () => {
      await up('canary', 'canary: first apply');
      await up('production', 'production: first apply');
    });
    await step('refuses at preview an image that has not been on canary, naming it and the canary result', async () => {
      writeFleet('group_vars/all.yml', allYml('pi4-2026.11', 'pi3-2026.10'));
      await emu.clearRequests();
      const preview = await ws.run(['preview', '--stack', 'production', '--config-file', configFile('production')]);
      expect(preview.code).not.toBe(0);
      const output = preview.stdout + preview.stderr;
      expect(output).toContain('promotion gate of ring production: image pi4-2026.11 has not finished on canary (no canary deployment of it); nothing was sent to Mender');
      expect(output).toContain(`image pi4-2026.11 has not finished on canary: no canary deployment of it; wanted by 1 device of production: ${B}`);
      expect(mutating(await emu.requests())).toEqual([]);
    });
    await step('plans production in fleet terms with reads only: the image, the device getting it, the gate refusing it', async () => {
      await emu.clearRequests();
      const result = await fleetCli(['plan', '--stack', 'production', '--config-file', configFile('production')], ws.env);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      for (const line of [
        'STOP: the promotion gate refuses pi4-2026.11: an up would stop before anything reaches Mender',
        'Image pi4-2026.11: 1 device gets it, 0 already run it',
        '  pi4-v3-arm64 in pi4: 1',
        `  ${B}`,
        '  refused: pi4-2026.11 (wanted by 1 device): no canary deployment of it',
      ]) {
        expect(result.stdout).toContain(line);
      }
      expect(result.stdout).toContain('ring: 0 devices join, 0 devices leave');
      expect(mutating(await emu.requests())).toEqual([]);
    });
    await step('promotes the image once it finished on canary', async () => {
      await up('canary', 'roll pi4-2026.11 to canary');
      await up('production', 'promote pi4-2026.11 to production');
    });
    await step('lets an image through only with a recorded override', async () => {
      writeFleet('group_vars/all.yml', allYml('pi4-2026.11', 'pi3-2026.11'));
      writeFleet(`host_vars/${B}.yml`, runnerYml(['pi4', 'hil']));
      const env = { GITHUB_RUNNER_TOKEN: 'runner-token-2' };
      const refused = await ws.run(['preview', '--stack', 'production', '--config-file', configFile('production')], { env });
      expect(refused.code).not.toBe(0);
      expect(refused.stdout + refused.stderr).toContain('image pi3-2026.11 has not finished on canary (no canary deployment of it)');

      const override = ['fleet:promotionOverride:', '  - image: pi3-2026.11', '    reason: no canary device of type pi3-arm64'];
      const plan = await fleetCli(['plan', '--stack', 'production', '--markdown', '--config-file', configFile('production', override)], { ...ws.env, ...env });
      expect(plan.code).toBe(0);
      expect(plan.stdout).toContain('| `pi3-2026.11` | 1 | 0 | `pi3-2026.10`: 1 |');
      expect(plan.stdout).toContain(`- \`${B}\`: changed runner_labels, runner_token (secret)`);
      expect(plan.stdout).toContain('- overridden: pi3-2026.11, although no canary deployment of it; reason: no canary device of type pi3-arm64');
      expect(plan.stdout).not.toMatch(/runner-token-\d|pi4,hil/);
      const applied = await up('production', 'pi3-2026.11 without canary; new runner token', override, env);
      expect(applied.stdout + applied.stderr).toContain('promotion override: image pi3-2026.11 is deployed although no canary deployment of it; reason: no canary device of type pi3-arm64');
    });
    await step('shows a drift in the status (exit 2) and converges after an up', async () => {
      await emu.api('PUT', `/api/management/v1/deviceconfig/configurations/device/${A}`, { kiosk_url: 'https://example.org/by-hand', os_image: 'pi4-2026.11' });
      const drifted = await fleetCli(['status', '--stack', 'canary'], ws.env);
      expect(drifted.code).toBe(2);
      expect(drifted.stdout).toContain('1 of 1 devices of canary not converged');
      expect(drifted.stdout).toMatch(new RegExp(`${A}.*pi4-2026\\.11.*pi4-2026\\.11.*pending.*success \\(pi4-2026\\.11\\).*NOT CONVERGED`));

      await ws.ok(['up', '--yes', '--skip-preview', '--refresh', '--stack', 'canary', '--config-file', configFile('canary'), '--message', 'canary: correct drift']);
      const rows = await ringStatus({ stack: 'canary', env: ws.env });
      expect(rows).toEqual([
        {
          id: A,
          deviceType: 'pi4-v3-arm64',
          ring: 'canary',
          desiredImage: 'pi4-2026.11',
          runningImage: 'pi4-2026.11',
          configuration: 'in sync',
          lastDeployment: expect.objectContaining({ status: 'success', artifact: 'pi4-2026.11' }),
          converged: true,
        },
      ]);
      const production = await ringStatus({ stack: 'production', env: ws.env });
      expect(production.map((r) => [r.id, r.runningImage, r.configuration, r.lastDeployment?.status, r.converged])).toEqual([
        [B, 'pi4-2026.11', 'in sync', 'success', true],
        [C, 'pi3-2026.11', 'none', 'success', true],
      ]);
    });
    await step('audits every update of canary in the fleet terms', async () => {
      const entries = auditEntries(await loadAuditUpdates({ stack: 'canary', env: ws.env }));
      expect(normalised(formatAudit(entries))).toBe(
        [
          '#1 <time>  commit <head> by <author>  "canary: first apply"',
          `    device ${A}: joined the ring canary, image pi4-2026.10`,
          `    device ${A}: configuration set (keys kiosk_url, os_image)`,
          '#2 <time>  commit <head> by <author>  "roll pi4-2026.11 to canary"',
          `    device ${A}: image pi4-2026.10 → pi4-2026.11`,
          `    device ${A}: configuration keys os_image changed`,
          '#3 <time>  commit <head> by <author>  "canary: correct drift"',
          `    device ${A}: configuration sent again (drift corrected)`,
        ].join('\n'),
      );
      // Traceability: the commit and its author, as Pulumi recorded them from the checkout.
      const head = git('rev-parse', 'HEAD');
      for (const entry of entries) {
        expect(entry.git).toMatchObject({ sha: head, author: git('log', '-1', '--format=%an'), authorEmail: git('log', '-1', '--format=%ae') });
        expect(entry.startTime).toMatch(/^\d{4}-\d\d-\d\dT/);
      }
    });
    await step('audits production, with the override and secret keys named but never their values', async () => {
      const text = normalised(formatAudit(auditEntries(await loadAuditUpdates({ stack: 'production', env: ws.env }))));
      expect(text).toBe(
        [
          '#1 <time>  commit <head> by <author>  "production: first apply"',
          `    device ${B}: joined the ring production, image pi4-2026.10`,
          `    device ${B}: configuration set (keys runner_labels and secret keys runner_token)`,
          `    device ${C}: joined the ring production, image pi3-2026.10`,
          '#2 <time>  commit <head> by <author>  "promote pi4-2026.11 to production"',
          `    device ${B}: image pi4-2026.10 → pi4-2026.11`,
          '#3 <time>  commit <head> by <author>  "pi3-2026.11 without canary; new runner token"',
          '    promotion override: pi3-2026.11 (no canary device of type pi3-arm64)',
          `    device ${B}: configuration keys runner_labels and secret keys runner_token changed`,
          `    device ${C}: image pi3-2026.10 → pi3-2026.11`,
        ].join('\n'),
      );
      expect(text).not.toContain('runner-token');
    });
    await step('prints machine-readable entries for a range with --json', async () => {
      const result = await fleetCli(['audit', '--stack', 'production', '--from', '2', '--to', '2', '--json'], ws.env);
      expect(result.code).toBe(0);
      const entries = JSON.parse(result.stdout) as { version: number; message: string; changes: unknown[]; git: { sha: string } }[];
      expect(entries.map((e) => [e.version, e.message, e.changes])).toEqual([[2, 'promote pi4-2026.11 to production', [{ kind: 'image', device: B, from: 'pi4-2026.10', to: 'pi4-2026.11' }]]]);
      expect(entries[0].git.sha).toBe(git('rev-parse', 'HEAD'));
      expect(result.stdout).not.toContain('runner-token');
    });
    await step('leaves the tracked stack files as they were', () => {
      for (const [file, text] of stackFiles) expect(fs.readFileSync(path.join(repoRoot, file), 'utf8')).toBe(text);
    });
  }, 2_400_000);
});
