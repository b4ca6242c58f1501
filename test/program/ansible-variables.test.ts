// Variables as Ansible templates them: lazily, in the device's scope, by precedence, with
// Ansible's undefined, `mandatory`, `default`, `lookup('env')` and native values. Expected
// values are worked out by hand from Ansible's rules.
import * as fs from 'node:fs';
import { formatIssue } from '../../program/description/issues';
import { loadFleet } from '../../program/description/load';
import { validateFleetOffline } from '../../program/description/validate';
import { FleetFacts, planRing } from '../../program/pipeline/plan';
import { baseFleet, writeFleet } from './fleet-files';

const PI4_A = '3fb4632b-96b9-475d-ac89-02255bd15b6f'; // canary, configured from kiosk.json
const host = `host_vars/${PI4_A}.yml`;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

// The tests' environment lookups are allowed by name, as fleet:lookupEnv would (UNSET_X: allowed, not set).
const secretsOf = (env: Record<string, string> = {}) => ({ env, lookupEnv: new Set([...Object.keys(env), 'UNSET_X']), config: {}, secretConfigKeys: new Set<string>() });
const facts: FleetFacts = {
  devices: new Map([
    [PI4_A, { id: PI4_A, deviceType: 'pi4-v3-arm64', artifactName: 'pi4-2026.10' }],
    ['b8b311de-000e-4914-9a13-1d7e2e23bc5d', { id: 'b8b311de-000e-4914-9a13-1d7e2e23bc5d', deviceType: 'pi4-v3-arm64' }],
    ['50a28c2e-3ee8-4559-a5b9-3ce47c881c5d', { id: '50a28c2e-3ee8-4559-a5b9-3ce47c881c5d', deviceType: 'pi3-arm64' }],
  ]),
};

function fleetDir(files: Record<string, string | null>): string {
  const dir = writeFleet({ ...baseFleet, ...files });
  dirs.push(dir);
  return dir;
}

/** The canary device's plan: its configuration, or the errors. */
function canary(files: Record<string, string | null>, env: Record<string, string> = {}) {
  const plan = planRing(loadFleet(fleetDir(files)), facts, { ring: 'canary', secrets: secretsOf(env) });
  return { errors: plan.errors.map(formatIssue), device: plan.devices[0], configuration: plan.devices[0]?.configuration };
}

const offline = (files: Record<string, string | null>, env: Record<string, string> = {}) => validateFleetOffline(fleetDir(files), secretsOf(env)).issues.map(formatIssue);

const kioskHost = (parameters: string[], extra: string[] = []) => ['subscribed_branch: canary', ...extra, 'configuration:', '  template: kiosk.json', '  parameters:', ...parameters.map((p) => `    ${p}`), ''].join('\n');
const template = (body: string) => ({ 'templates/kiosk.json': body });

describe('variables templated as Ansible does', () => {
  it('templates a variable that refers to others, across files, in the device scope', () => {
    const { errors, configuration } = canary({
      'group_vars/all.yml': baseFleet['group_vars/all.yml'] + 'site: https://kiosk.example.org\n',
      'group_vars/pi4.yml': 'hall: "{{ site }}/hall"\nscreen: "{{ inventory_hostname }}"\n',
      [host]: kioskHost(['kiosk_url: "{{ hall }}/{{ screen }}"']),
      ...template('{"kiosk_url": "{{ kiosk_url }}", "image": "{{ desired_os_image }}"}'),
    });
    expect(errors).toEqual([]);
    expect(configuration!.values).toEqual({ kiosk_url: `https://kiosk.example.org/hall/${PI4_A}`, image: 'pi4-2026.11' });
  });

  it('lets a more specific file replace a variable as a whole (no merging of mappings)', () => {
    const { configuration } = canary({
      'group_vars/all.yml': baseFleet['group_vars/all.yml'] + 'screen: {rotation: 90, brightness: 70}\n',
      'group_vars/pi4.yml': 'screen: {rotation: 180}\n',
      ...template('{"rotation": "{{ screen.rotation }}", "brightness": "{{ screen.brightness | default(\'unset\') }}", "kiosk_url": "{{ kiosk_url }}"}'),
    });
    expect(configuration!.values).toEqual({ rotation: '180', brightness: 'unset', kiosk_url: 'https://example.org/canary' });
  });

  it('reads configuration.parameters in the template, templated too', () => {
    const { configuration } = canary({
      [host]: kioskHost(['kiosk_url: "{{ base }}/lobby"', 'base: https://kiosk.example.org']),
      ...template('{"kiosk_url": "{{ configuration.parameters.kiosk_url | mandatory }}"}'),
    });
    expect(configuration!.values).toEqual({ kiosk_url: 'https://kiosk.example.org/lobby' });
  });

  it('templates lazily: a variable that cannot render is no error while nothing uses it', () => {
    const { errors } = canary({ 'group_vars/all.yml': baseFleet['group_vars/all.yml'] + 'runner_token: "{{ missing | mandatory(\'set the runner token\') }}"\n' });
    expect(errors).toEqual([]);
  });

  it('reports a variable that fails where it is used, at its own file and line', () => {
    const files = {
      'group_vars/all.yml': baseFleet['group_vars/all.yml'] + 'runner_token: "{{ missing | mandatory(\'set the runner token\') }}"\n',
      ...template('{"kiosk_url": "{{ kiosk_url }}", "token": "{{ runner_token }}"}'),
    };
    expect(canary(files).errors).toEqual([`group_vars/all.yml:8: for device ${PI4_A}: runner_token does not render: set the runner token`]);
  });

  it('detects a recursive loop and names the variables and the file and line where it closes', () => {
    const files = {
      'group_vars/pi4.yml': 'hall: "{{ lobby }}/hall"\n',
      [host]: kioskHost(['kiosk_url: "{{ hall }}"'], ['lobby: "https://{{ hall }}"']),
    };
    expect(canary(files).errors).toEqual([`group_vars/pi4.yml:1: for device ${PI4_A}: recursive loop detected in template string: hall → lobby → hall`]);
    expect(offline(files)).toEqual([`group_vars/pi4.yml:1: for device ${PI4_A}: recursive loop detected in template string: hall → lobby → hall`]);
  });

  it('detects a variable that refers to itself', () => {
    const files = { [host]: kioskHost(['kiosk_url: "{{ kiosk_url }}/x"']) };
    expect(canary(files).errors).toEqual([`${host}:5: for device ${PI4_A}: recursive loop detected in template string: kiosk_url → kiosk_url`]);
  });

  it('returns the value of a single-expression template, so os_image may come from another variable', () => {
    const { errors, device } = canary({
      'group_vars/all.yml': [
        'subscribed_branch: production',
        'release: "2026.12"',
        'images:',
        '  - {device_type: pi4-v3-arm64, image_name: "pi4-{{ release }}"}',
        '  - {device_type: pi3-arm64, image_name: "pi3-{{ release }}"}',
        'os_image: "{{ images }}"',
        'kiosk_url: https://example.org',
        '',
      ].join('\n'),
    });
    expect(errors).toEqual([]);
    expect(device.desiredImage).toBe('pi4-2026.12');
  });

  it('checks a templated os_image once templated, at its line', () => {
    const files = { 'group_vars/all.yml': 'subscribed_branch: production\nrelease: x\nos_image: "{{ release }}"\nkiosk_url: https://example.org\n' };
    expect(offline(files)).toEqual([
      `group_vars/all.yml:3: for device ${PI4_A}: os_image is "x" once templated: os_image must be a list of {device_type, image_name}`,
      'group_vars/all.yml:3: for device b8b311de-000e-4914-9a13-1d7e2e23bc5d: os_image is "x" once templated: os_image must be a list of {device_type, image_name}',
      'group_vars/all.yml:3: for device 50a28c2e-3ee8-4559-a5b9-3ce47c881c5d: os_image is "x" once templated: os_image must be a list of {device_type, image_name}',
    ]);
  });

  it('takes the ring from a templated subscribed_branch', () => {
    const { device } = canary({ [host]: kioskHost(['kiosk_url: https://example.org/x'], ['ring: canary']).replace('subscribed_branch: canary', 'subscribed_branch: "{{ ring }}"') });
    expect(device).toMatchObject({ id: PI4_A, ring: 'canary', ringSource: 'git' });
  });

  it("is strict about undefined as Ansible is: printing or testing it is an error naming it and the template's line", () => {
    expect(canary(template('{\n  "kiosk_url": "{{ kiosk_url }}",\n  "rotation": "{{ kiosk_rotation }}"\n}')).errors).toEqual([
      `templates/kiosk.json:3: for device ${PI4_A}: does not render: 'kiosk_rotation' is undefined`,
    ]);
    expect(canary(template('{\n{% if kiosk_enabled %}"a": "b",{% endif %}\n  "kiosk_url": "{{ kiosk_url }}"\n}')).errors).toEqual([
      `templates/kiosk.json:2: for device ${PI4_A}: does not render: 'kiosk_enabled' is undefined`,
    ]);
    expect(canary(template('{"n": "{{ screen.rotation | length }}"}')).errors).toEqual([`templates/kiosk.json:1: for device ${PI4_A}: does not render: 'screen.rotation' is undefined`]);
  });

  it('lets undefined through `is defined`, `default`, `mandatory` and attribute chains', () => {
    const { errors, configuration } = canary(
      template(
        '{"a": "{{ kiosk_enabled is defined and kiosk_enabled }}", "b": "{{ screen.rotation | default(90) }}", "c": "{{ kiosk_rotation | d(\'auto\') }}", "d": "{{ (kiosk_url if kiosk_url | length > 100) | default(\'short\') }}"}',
      ),
    );
    expect(errors).toEqual([]);
    // Jinja2 prints Python's False.
    expect(configuration!.values).toEqual({ a: 'False', b: '90', c: 'auto', d: 'short' });
  });

  it('raises mandatory with its own message when an inline if without else is false', () => {
    const files = {
      [host]: kioskHost(['kiosk_url: https://example.org/x', 'token: ""']),
      ...template('{\n  "token": "{{ (token if (token | length > 0)) | mandatory(\'The token must not be empty!\') }}"\n}'),
    };
    expect(canary(files).errors).toEqual([`templates/kiosk.json:2: for device ${PI4_A}: does not render: The token must not be empty!`]);
  });

  it("reads an unset environment variable as '' (Ansible's env lookup); default(…, true) replaces it", () => {
    const { configuration } = canary(template('{"a": "[{{ lookup(\'env\', \'UNSET_X\') }}]", "b": "{{ lookup(\'env\', \'UNSET_X\') | default(\'fallback\', true) }}", "c": "{{ lookup(\'env\', \'UNSET_X\') | default(\'kept\') }}"}'));
    expect(configuration!.values).toEqual({ a: '[]', b: 'fallback', c: '' });
    expect(configuration!.secretKeys).toEqual([]);
  });

  it('keeps a value built from a secret secret, through variables, to the configuration key', () => {
    const files = {
      [host]: kioskHost(['kiosk_url: https://example.org/x'], ['api_token: "{{ lookup(\'env\', \'KIOSK_TOKEN\') }}"', 'auth_header: "Bearer {{ api_token }}"']),
      ...template('{"kiosk_url": "{{ kiosk_url }}", "auth": "{{ auth_header }}", "has_token": "{{ api_token | length > 0 }}"}'),
    };
    const { configuration } = canary(files, { KIOSK_TOKEN: 'tok-7f3a' });
    expect(configuration!.values).toEqual({ kiosk_url: 'https://example.org/x', auth: 'Bearer tok-7f3a', has_token: 'True' });
    expect(configuration!.secretKeys).toEqual(['auth']);
    expect(configuration!.hash).not.toContain('tok-7f3a');
  });

  it('prints values as Jinja2 does, and knows the bool filter as Ansible defines it', () => {
    const { configuration } = canary({
      [host]: kioskHost(['kiosk_url: https://example.org/canary'], ['labels: [pi4, arm64]', 'nothing: ~']),
      ...template('{"a": "{{ \'yes\' | bool }}", "b": "{{ \'off\' | bool }}", "c": "{{ 1 | bool }}", "kiosk_url": "{{ kiosk_url }}", "labels": "{{ labels }}", "nothing": "{{ nothing }}"}'),
    });
    expect(configuration!.values).toEqual({ a: 'True', b: 'False', c: 'True', kiosk_url: 'https://example.org/canary', labels: "['pi4', 'arm64']", nothing: '' });
  });
});
