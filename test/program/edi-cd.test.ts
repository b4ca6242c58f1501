// The two edi-cd layouts, as fleets written for the tests (test/fixtures/edi-cd-talk and
// test/fixtures/edi-cd-current): they validate as they are and plan the configurations Ansible
// renders from them (edi-cd-expected.ts, worked out by hand from Ansible's rules).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatIssue } from '../../program/description/issues';
import { loadFleet } from '../../program/description/load';
import { validateFleetOffline } from '../../program/description/validate';
import { DeviceFacts, planRing } from '../../program/pipeline/plan';
import { repoRoot } from '../helpers/pulumi';
import { CURRENT, CURRENT_EXPECTED, INFLUX_TOKEN, RUNNER_TOKEN, TALK, TALK_EXPECTED } from './edi-cd-expected';

// The one line an edi-cd repository adds: fleet:lookupEnv names the variables its host_vars look up.
const secrets = (env: Record<string, string>) => ({ env, lookupEnv: new Set(['RUNNER_ACCESS_TOKEN', 'INFLUXDB_HTTP_TOKEN']), config: {}, secretConfigKeys: new Set<string>() });
const facts = (devices: [string, string][]) => ({ devices: new Map<string, DeviceFacts>(devices.map(([id, deviceType]) => [id, { id, deviceType, artifactName: 'older' }])) });
const talkFacts = facts([
  ['93edb46f-7c44-45d5-a16b-a333d14c33a2', 'pi4-v3-arm64'],
  ['4d215467-e6e2-47c8-abc7-3e99469faa4d', 'pi4-v3-arm64'],
  ['77fbf145-4cb7-498d-a1d7-35a0089d5ede', 'pi3-arm64'],
  ['bc195395-7da8-4d49-a0d2-57e3bbdd7252', 'pi3-arm64'],
  ['a937754e-d6ef-445c-bde4-22b13358b478', 'pi2-armhf'],
]);
const currentFacts = facts([
  ['598b2b43-2f8e-4bac-8cd7-b6902b783623', 'pi5-v3-arm64'],
  ['dcfc89b8-2a77-4f60-a708-1fe701e77823', 'pi4-v3-arm64'],
  ['f3c89826-a324-4edd-9408-b13292a0073a', 'pi4-v3-arm64'],
  ['2b76c873-153d-4e0c-b95c-1f1f2d882ec1', 'pi3-v3-arm64'],
  ['dd24fda7-7ad3-4fc9-b148-0d05c018becb', 'pi3-v3-arm64'],
  ['e7580a18-c979-4e41-bedc-c06f1695954e', 'pi2-armhf'],
]);

function planned(dir: string, deviceFacts: typeof talkFacts, ring: string, env: Record<string, string>) {
  const plan = planRing(loadFleet(dir), deviceFacts, { ring, secrets: secrets(env) });
  expect(plan.errors).toEqual([]);
  return {
    devices: Object.fromEntries(plan.devices.map((d) => [d.id, [d.desiredImage, d.configuration?.values]])),
    secretKeys: Object.fromEntries(plan.devices.filter((d) => d.configuration?.secretKeys.length).map((d) => [d.id, d.configuration!.secretKeys])),
  };
}

function fleetCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot, 'bin', 'fleet.js'), ...args], { cwd: repoRoot, env }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

const RUNNER_MESSAGE = 'roles/apply_configuration/templates/github-runner.json:6: for device 93edb46f-7c44-45d5-a16b-a333d14c33a2: does not render: The GitHub access token must not be empty!';

describe('the talk-era edi-cd layout', () => {
  it('validates as it is, with the runner token in the environment', () => {
    const result = validateFleetOffline(TALK, secrets({ RUNNER_ACCESS_TOKEN: RUNNER_TOKEN }));
    expect(result.issues).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.fleet!.templates.get('github-runner.json')!.file).toBe('roles/apply_configuration/templates/github-runner.json');
  });

  it.each(['main', 'production'])('plans ring %s with the configurations Ansible renders', (ring) => {
    const { devices, secretKeys } = planned(TALK, talkFacts, ring, { RUNNER_ACCESS_TOKEN: RUNNER_TOKEN });
    expect(devices).toEqual(TALK_EXPECTED[ring]);
    expect(secretKeys).toEqual(ring === 'production' ? { '93edb46f-7c44-45d5-a16b-a333d14c33a2': ['access_token'] } : {});
  });

  it("fails with the runner template's own message, file and line when the token is not set", () => {
    expect(validateFleetOffline(TALK, secrets({})).issues.map(formatIssue)).toEqual([RUNNER_MESSAGE]);
    expect(validateFleetOffline(TALK, secrets({ RUNNER_ACCESS_TOKEN: '' })).issues.map(formatIssue)).toEqual([RUNNER_MESSAGE]);
  });

  it('makes `fleet validate --stack` exit 1 with that message when RUNNER_ACCESS_TOKEN is unset, and name the variable when the stack does not allow it', async () => {
    // The repository's stack file, with the one setting an edi-cd repository adds.
    const project = fs.mkdtempSync(path.join(os.tmpdir(), 'edi-cd-project-'));
    fs.writeFileSync(path.join(project, 'Pulumi.production.yaml'), 'config:\n  fleet:lookupEnv: [RUNNER_ACCESS_TOKEN, INFLUXDB_HTTP_TOKEN]\n');
    const env = { ...process.env };
    delete env.RUNNER_ACCESS_TOKEN;
    try {
      const failed = await fleetCli(['validate', '--fleet', TALK, '--project', project, '--stack', 'production'], env);
      expect(failed.stderr).toBe(`${RUNNER_MESSAGE}\n1 error in ${TALK}\n`);
      expect(failed.code).toBe(1);
      const passed = await fleetCli(['validate', '--fleet', TALK, '--project', project, '--stack', 'production'], { ...env, RUNNER_ACCESS_TOKEN: RUNNER_TOKEN });
      expect(passed.code).toBe(0);
      // A stack without the list: the variable, the file and the line of the lookup.
      const refused = await fleetCli(['validate', '--fleet', TALK, '--project', project, '--stack', 'canary'], { ...env, RUNNER_ACCESS_TOKEN: RUNNER_TOKEN });
      expect(refused.stderr).toContain(
        "host_vars/93edb46f-7c44-45d5-a16b-a333d14c33a2.yml:7: for device 93edb46f-7c44-45d5-a16b-a333d14c33a2: configuration.parameters.access_token does not render: lookup('env', 'RUNNER_ACCESS_TOKEN'): RUNNER_ACCESS_TOKEN is not in fleet:lookupEnv",
      );
      expect(refused.stderr).not.toContain(RUNNER_TOKEN);
      expect(refused.code).toBe(1);
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('the current edi-cd layout', () => {
  const env = { RUNNER_ACCESS_TOKEN: RUNNER_TOKEN, INFLUXDB_HTTP_TOKEN: INFLUX_TOKEN };
  const STALE = 'host_vars: 2 host_vars files are for devices not in the inventory and ignored: host_vars/15857064-c2ac-4620-addb-ffa2b72c072f.yml, host_vars/5d9c5607-cf89-45f3-ae0e-96b8a37891aa.yml; delete them, or add the devices to inventory.yml (fleet:strict makes this an error)';

  it('validates with one line added to group_vars/all.yml, warning about the stale host_vars', () => {
    const result = validateFleetOffline(CURRENT, secrets(env));
    expect(result.issues).toEqual([]);
    expect(result.warnings.map(formatIssue)).toEqual([STALE]);
  });

  it('refuses the stale host_vars with fleet:strict', () => {
    expect(validateFleetOffline(CURRENT, secrets(env), { strict: true }).issues.map(formatIssue)).toEqual([
      'host_vars/15857064-c2ac-4620-addb-ffa2b72c072f.yml:1: device 15857064-c2ac-4620-addb-ffa2b72c072f is not in the inventory; add it to a group in inventory.yml',
      'host_vars/5d9c5607-cf89-45f3-ae0e-96b8a37891aa.yml:1: device 5d9c5607-cf89-45f3-ae0e-96b8a37891aa is not in the inventory; add it to a group in inventory.yml',
    ]);
  });

  it.each(['main', 'develop', 'production'])('plans ring %s with the configurations Ansible renders', (ring) => {
    const { devices, secretKeys } = planned(CURRENT, currentFacts, ring, env);
    expect(devices).toEqual(CURRENT_EXPECTED[ring]);
    const expectedSecrets: Record<string, Record<string, string[]>> = {
      main: {
        'dcfc89b8-2a77-4f60-a708-1fe701e77823': ['gharunner_access_token', 'monitoring_influxdb_http_token'],
        'f3c89826-a324-4edd-9408-b13292a0073a': ['monitoring_influxdb_http_token'],
      },
      develop: { '598b2b43-2f8e-4bac-8cd7-b6902b783623': ['gharunner_access_token'] },
      production: {},
    };
    expect(secretKeys).toEqual(expectedSecrets[ring]);
  });

  it('names each device whose token is missing, with the template line of its message', () => {
    expect(validateFleetOffline(CURRENT, secrets({ RUNNER_ACCESS_TOKEN: RUNNER_TOKEN })).issues.map(formatIssue)).toEqual([
      'roles/apply_configuration/templates/edge-configuration.json:8: for device dcfc89b8-2a77-4f60-a708-1fe701e77823: does not render: The InfluxDB http token must not be empty!',
      'roles/apply_configuration/templates/edge-configuration.json:8: for device f3c89826-a324-4edd-9408-b13292a0073a: does not render: The InfluxDB http token must not be empty!',
    ]);
  });

  it('reads the template from fleet:templates when the repository keeps it elsewhere', () => {
    const result = validateFleetOffline(CURRENT, secrets(env), { templates: 'roles/apply_configuration/templates' });
    expect(result.issues).toEqual([]);
    expect([...result.fleet!.templates.keys()]).toEqual(['edge-configuration.json']);
  });
});
