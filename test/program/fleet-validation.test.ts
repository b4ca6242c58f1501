// The corpus of broken fleets: each case breaks one thing and names the exact message a user
// sees, with file and line.
import * as fs from 'node:fs';
import { formatIssue } from '../../program/description/issues';
import { validateFleetOffline } from '../../program/description/validate';
import { validationSecrets } from '../../cli/stack-pipeline';
import { baseFleet, writeFleet } from './fleet-files';

const secrets = { env: {}, lookupEnv: new Set<string>(), config: {}, secretConfigKeys: new Set<string>() };
const host = 'host_vars/3fb4632b-96b9-475d-ac89-02255bd15b6f.yml';
const dirs: string[] = [];

function validate(files: Record<string, string | null>, options: { strict?: boolean; templates?: string } = {}) {
  const dir = writeFleet({ ...baseFleet, ...files });
  dirs.push(dir);
  return validateFleetOffline(dir, secrets, options);
}

function check(files: Record<string, string | null>): string[] {
  return validate(files).issues.map(formatIssue);
}

afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const replaceIn = (file: string, from: string, to: string) => ({ [file]: baseFleet[file].replace(from, to) });

const cases: Array<[string, Record<string, string | null>, string[]]> = [
  ['no inventory', { 'inventory.yml': null }, ['inventory.yml: missing: the fleet folder must hold inventory.yml (all.children.<group>.hosts.<device id>)']],
  ['inventory is not YAML', { 'inventory.yml': 'all:\n  children: [\n' }, [expect.stringMatching(/^inventory\.yml:3: not valid YAML: /) as unknown as string]],
  ['a device twice in one group', replaceIn('inventory.yml', '        b8b311de-000e-4914-9a13-1d7e2e23bc5d:', '        3fb4632b-96b9-475d-ac89-02255bd15b6f:'), ['inventory.yml:6: not valid YAML: Map keys must be unique: 3fb4632b-96b9-475d-ac89-02255bd15b6f is also on line 5']],
  ['a device in two groups', replaceIn('inventory.yml', '        50a28c2e-3ee8-4559-a5b9-3ce47c881c5d:', '        3fb4632b-96b9-475d-ac89-02255bd15b6f:'), ['inventory.yml:9: device 3fb4632b-96b9-475d-ac89-02255bd15b6f is listed twice (also in group "pi4" at inventory.yml:5); list each device in one group']],
  ['not a Mender id', replaceIn('inventory.yml', '50a28c2e-3ee8-4559-a5b9-3ce47c881c5d', 'raspberrypi.local'), ['inventory.yml:9: "raspberrypi.local" is not a Mender device id; use the device\'s id from Mender (a UUID such as 9f1c2b3a-4d5e-4f60-a172-8394a5b6c7d8)']],
  ['a truncated id', replaceIn('inventory.yml', '50a28c2e-3ee8-4559-a5b9-3ce47c881c5d', '50a28c2e-3ee8-4559-a5b9'), ['inventory.yml:9: "50a28c2e-3ee8-4559-a5b9" is not a Mender device id; use the device\'s id from Mender (a UUID such as 9f1c2b3a-4d5e-4f60-a172-8394a5b6c7d8)']],
  ['a bad group name', replaceIn('inventory.yml', '    pi3:', '    pi-3:'), ['inventory.yml:7: group name "pi-3" must be letters, digits and underscores, starting with a letter (as Ansible requires)']],
  ['"host" for "hosts"', replaceIn('inventory.yml', '    pi3:\n      hosts:', '    pi3:\n      host:'), ['inventory.yml:8: unknown key "host"; did you mean "hosts"? (allowed here: hosts, vars)']],
  ['a misspelt "all"', { 'inventory.yml': baseFleet['inventory.yml'].replace('all:', 'al:') }, ['inventory.yml:1: all is missing', 'inventory.yml:1: unknown key "al"; did you mean "all"? (allowed here: all)']],
  ['"childs" for "children"', replaceIn('inventory.yml', 'children:', 'childs:'), ['inventory.yml:2: unknown key "childs"; did you mean "children"? (allowed here: children, hosts, vars)']],
  ['group_vars for no group', { 'group_vars/pi5.yml': 'kiosk_url: x\n' }, ['group_vars/pi5.yml:1: there is no group "pi5" in the inventory; did you mean "pi4"?']],
  ['subscribed_brach', replaceIn(host, 'subscribed_branch', 'subscribed_brach'), [`${host}:1: unknown key "subscribed_brach"; did you mean "subscribed_branch"?`]],
  ['os_images', replaceIn('group_vars/all.yml', 'os_image:', 'os_images:'), ['group_vars/all.yml:2: unknown key "os_images"; did you mean "os_image"?']],
  ['os_image is a mapping', { 'group_vars/all.yml': 'os_image:\n  pi4-v3-arm64: pi4-2026.11\n' }, ['group_vars/all.yml:1: os_image: os_image must be a list of {device_type, image_name}']],
  ['an os_image entry without image_name', replaceIn('group_vars/all.yml', '    image_name: pi3-2026.11\n', ''), ['group_vars/all.yml:5: os_image.1.image_name is missing']],
  ['imagename for image_name', replaceIn('group_vars/all.yml', 'image_name: pi3-2026.11', 'imagename: pi3-2026.11'), ['group_vars/all.yml:5: os_image.1.image_name is missing', 'group_vars/all.yml:6: unknown key "imagename"; did you mean "image_name"? (allowed here: device_type, image_name)']],
  ['an empty device_type', replaceIn('group_vars/all.yml', 'device_type: pi3-arm64', 'device_type: ""'), ['group_vars/all.yml:5: os_image.1.device_type: device_type must not be empty']],
  ['paramters', replaceIn(host, 'parameters:', 'paramters:'), [`${host}:4: unknown key "paramters"; did you mean "parameters"? (allowed here: template, parameters)`]],
  ['configuration without template', { [host]: 'configuration:\n  parameters: {a: b}\n' }, [`${host}:1: configuration.template: configuration.template must name a file in templates/`]],
  ['parameters is a list', replaceIn(host, '    kiosk_url: https://example.org/canary', '    - kiosk_url'), [`${host}:4: configuration.parameters: configuration.parameters must be a mapping`]],
  ['a template that does not exist', replaceIn(host, 'kiosk.json', 'kiosk.jsn'), [`${host}:3: device 3fb4632b-96b9-475d-ac89-02255bd15b6f: template "kiosk.jsn" does not exist in templates/; did you mean "kiosk.json"?`]],
  ['a mandatory variable missing', { [host]: 'configuration:\n  template: kiosk.json\n', 'group_vars/all.yml': baseFleet['group_vars/all.yml'].replace('kiosk_url: https://example.org\n', '') }, ['templates/kiosk.json:2: for device 3fb4632b-96b9-475d-ac89-02255bd15b6f: does not render: "kiosk_url" is mandatory but not defined']],
  ['an unclosed if', { 'templates/kiosk.json': '{\n{% if kiosk_url %}\n"a": "b"\n}\n' }, [expect.stringMatching(/^templates\/kiosk\.json(:\d+)?: for device 3fb4632b-96b9-475d-ac89-02255bd15b6f: does not render: .*(expected|unexpected|end of file)/i) as unknown as string]],
  ['a template that is not JSON', { 'templates/kiosk.json': '{ "kiosk_url": {{ kiosk_url }} }\n' }, [expect.stringMatching(/^templates\/kiosk\.json: for device 3fb4632b-96b9-475d-ac89-02255bd15b6f: does not render to JSON: /) as unknown as string]],
  ['a template that renders a list', { 'templates/kiosk.json': '["{{ kiosk_url }}"]\n' }, ['templates/kiosk.json: for device 3fb4632b-96b9-475d-ac89-02255bd15b6f: must render to a JSON object of configuration keys and values']],
  ['an unsupported lookup', { 'templates/kiosk.json': '{"token": "{{ lookup(\'vault\', \'x\') }}"}\n' }, ["templates/kiosk.json:1: for device 3fb4632b-96b9-475d-ac89-02255bd15b6f: does not render: lookup('vault', …) is not supported; use lookup('env', NAME) or lookup('config', KEY)"]],
  ['mender_server is not a URL', { 'group_vars/pi4.yml': 'mender_server: hosted.mender.io\n' }, ['group_vars/pi4.yml:1: mender_server: mender_server must be a URL such as https://hosted.mender.io']],
  ['subscribed_branch is a number', { 'group_vars/pi3.yml': 'subscribed_branch: 5\n' }, ['group_vars/pi3.yml:1: subscribed_branch: subscribed_branch must be a branch name such as canary or production']],
  ['subscribed_branch with a space', { 'group_vars/pi3.yml': 'subscribed_branch: my ring\n' }, ['group_vars/pi3.yml:1: subscribed_branch: subscribed_branch must be a branch name such as canary or production']],
  ['host_vars with a tab', { [host]: 'configuration:\n\ttemplate: kiosk.json\n' }, [expect.stringMatching(/^host_vars\/3fb4632b-96b9-475d-ac89-02255bd15b6f\.yml:2: not valid YAML: /) as unknown as string]],
  ['an ungrouped bad id', { 'inventory.yml': baseFleet['inventory.yml'] + '  hosts:\n    not-a-device:\n' }, ['inventory.yml:11: "not-a-device" is not a Mender device id; use the device\'s id from Mender (a UUID such as 9f1c2b3a-4d5e-4f60-a172-8394a5b6c7d8)']],
  [
    'errors in several files are all reported',
    { ...replaceIn(host, 'subscribed_branch', 'subscribed_brach'), ...replaceIn('group_vars/all.yml', 'os_image:', 'os_images:'), 'group_vars/pi5.yml': 'a: b\n' },
    ['group_vars/all.yml:2: unknown key "os_images"; did you mean "os_image"?', 'group_vars/pi5.yml:1: there is no group "pi5" in the inventory; did you mean "pi4"?', `${host}:1: unknown key "subscribed_brach"; did you mean "subscribed_branch"?`],
  ],
];

describe('fleet validation finds every error with file and line', () => {
  it('accepts the valid base fleet', () => {
    expect(check({})).toEqual([]);
  });

  it.each(cases)('%s', (_name, files, expected) => {
    expect(check(files)).toEqual(expected);
  });

  it('warns about host_vars of devices not in the inventory, and refuses them when strict', () => {
    const stale = { 'host_vars/0a28c2e0-3ee8-4559-a5b9-3ce47c881c5d.yml': 'kiosk_url: x\n', 'host_vars/1b28c2e0-3ee8-4559-a5b9-3ce47c881c5d.yml': 'kiosk_url: y\n' };
    const lenient = validate(stale);
    expect(lenient.issues).toEqual([]);
    expect(lenient.warnings.map(formatIssue)).toEqual([
      'host_vars: 2 host_vars files are for devices not in the inventory and ignored: host_vars/0a28c2e0-3ee8-4559-a5b9-3ce47c881c5d.yml, host_vars/1b28c2e0-3ee8-4559-a5b9-3ce47c881c5d.yml; delete them, or add the devices to inventory.yml (fleet:strict makes this an error)',
    ]);
    const strict = validate(stale, { strict: true });
    expect(strict.warnings).toEqual([]);
    expect(strict.issues.map(formatIssue)).toEqual([
      'host_vars/0a28c2e0-3ee8-4559-a5b9-3ce47c881c5d.yml:1: device 0a28c2e0-3ee8-4559-a5b9-3ce47c881c5d is not in the inventory; add it to a group in inventory.yml (or did you mean 50a28c2e-3ee8-4559-a5b9-3ce47c881c5d?)',
      'host_vars/1b28c2e0-3ee8-4559-a5b9-3ce47c881c5d.yml:1: device 1b28c2e0-3ee8-4559-a5b9-3ce47c881c5d is not in the inventory; add it to a group in inventory.yml (or did you mean 50a28c2e-3ee8-4559-a5b9-3ce47c881c5d?)',
    ]);
  });

  it('finds templates in templates/, then roles/apply_configuration/templates/, or where fleet:templates says', () => {
    const kiosk = baseFleet['templates/kiosk.json'];
    const inRole = validate({ 'templates/kiosk.json': null, 'roles/apply_configuration/templates/kiosk.json': kiosk });
    expect(inRole.issues).toEqual([]);
    expect(inRole.fleet!.templates.get('kiosk.json')!.file).toBe('roles/apply_configuration/templates/kiosk.json');
    // templates/ comes first, as the folder this project always read.
    const both = validate({ 'roles/apply_configuration/templates/kiosk.json': '{}' });
    expect(both.fleet!.templates.get('kiosk.json')!.file).toBe('templates/kiosk.json');
    const configured = validate({ 'templates/kiosk.json': null, 'config/json/kiosk.json': kiosk }, { templates: 'config/json' });
    expect(configured.issues).toEqual([]);
    expect(validate({ 'templates/kiosk.json': null }, { templates: 'config/json' }).issues.map(formatIssue)).toEqual([
      expect.stringContaining('config/json: the template folder set with fleet:templates does not exist in'),
      `${host}:3: device 3fb4632b-96b9-475d-ac89-02255bd15b6f: template "kiosk.json" does not exist in config/json/`,
    ]);
    expect(check({ 'templates/kiosk.json': null })).toEqual([
      `${host}:3: device 3fb4632b-96b9-475d-ac89-02255bd15b6f: template "kiosk.json" does not exist in templates/ or roles/apply_configuration/templates/`,
    ]);
  });

  it('names a fleet folder that does not exist', () => {
    expect(validateFleetOffline('/nonexistent/fleet', secrets).issues.map(formatIssue)).toEqual([
      '/nonexistent/fleet: the fleet folder does not exist; set fleet:path or --fleet to the folder holding inventory.yml',
    ]);
  });

  it('accepts the example fleet in fleet/', () => {
    // With the repository's own default list (Pulumi.yaml), which names the runner token the demo reads.
    const project = validationSecrets(`${__dirname}/../..`, undefined, {});
    expect(project.issues).toEqual([]);
    expect(validateFleetOffline(`${__dirname}/../../fleet`, project.secrets).issues).toEqual([]);
  });
});
