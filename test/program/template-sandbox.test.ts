// The injection corpus: a pull request's fleet files are data (program/description/sandbox.ts).
// Each attempt below is one line of a template or a variable; `fleet validate` refuses it with
// the file and line, nothing it asked for runs, and no secret or environment value is printed.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatIssue } from '../../program/description/issues';
import { checkLookupEnv } from '../../program/description/lookup-env';
import { validationSecrets } from '../../cli/stack-pipeline';
import { validateFleetOffline } from '../../program/description/validate';
import { repoRoot } from '../helpers/pulumi';
import { baseFleet, writeFleet } from './fleet-files';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'template-sandbox-'));
const MARKER = path.join(work, 'pwned');
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

// What the runner of a preview holds: the ring's credentials, and one variable the stack allows.
const ENV = {
  MENDER_ACCESS_TOKEN: 'mender-token-5f0c1e',
  PULUMI_CONFIG_PASSPHRASE: 'passphrase-9b2d77',
  AWS_SECRET_ACCESS_KEY: 'aws-secret-41aa08',
  KIOSK_PIN: 'kiosk-pin-77e3c1',
};
const VALUES = Object.values(ENV);
const secrets = { env: ENV, lookupEnv: new Set(['KIOSK_PIN']), lookupEnvSource: 'Pulumi.canary.yaml', config: {}, secretConfigKeys: new Set<string>() };

// Payloads that, unrefused, run a command, write a file, set a global or read the environment.
const RUN = `process.getBuiltinModule('child_process').execSync('touch ${MARKER}')`;
const SET = 'globalThis.fleetPwned = process.env.MENDER_ACCESS_TOKEN';

/** [what is tried, the expression or statement on the template's line 2]. */
const ATTEMPTS: Array<[string, string]> = [
  // The known nunjucks escapes: a built-in global's constructor is Function.
  ['range.constructor', `{{ range.constructor("${RUN}")() }}`],
  ['cycler.constructor', `{{ cycler.constructor("${SET}")() }}`],
  ['joiner.constructor', `{{ joiner.constructor("${RUN}")() }}`],
  ["a call's result's constructor", `{{ cycler("a").next.constructor("${SET}")() }}`],
  ["joiner()'s constructor by index", `{{ joiner()["constructor"]("${RUN}")() }}`],
  // Prototype and constructor access on every kind of value.
  ["a string literal's constructor", `{{ "".constructor.constructor("${RUN}")() }}`],
  ["a variable's constructor", `{{ kiosk_url.constructor.constructor("${SET}")() }}`],
  ["a number's constructor", `{{ (1).constructor.constructor("${RUN}")() }}`],
  ["a list's constructor", `{{ [].constructor.constructor("${RUN}")() }}`],
  ["a dict's constructor", `{{ {}.constructor.constructor("${RUN}")() }}`],
  ["a boolean's constructor", `{{ true.constructor }}`],
  ["a value's __proto__", '{{ kiosk_url.__proto__ }}'],
  ['__proto__ by index', '{{ kiosk_url["__proto__"]["constructor"] }}'],
  ['constructor by a computed index', '{{ kiosk_url["constr" ~ "uctor"]["constr" ~ "uctor"]("x") }}'],
  ['a computed index into a function', `{% set k = "constr" ~ "uctor" %}{{ range[k][k]("${RUN}")() }}`],
  ["a function's call", '{{ range.call(none, 3) }}'],
  ["a function's apply", '{{ range.apply(none, [3]) }}'],
  ["a macro's constructor", `{% macro m() %}x{% endmacro %}{{ m.constructor("${RUN}")() }}`],
  ["the loop's constructor", `{% for x in [1] %}{{ loop.constructor("${RUN}")() }}{% endfor %}`],
  ['a JavaScript method of a string', '{{ kiosk_url.toUpperCase() }}'],
  ['valueOf', '{{ kiosk_url.valueOf() }}'],
  ['a prototype name as a variable', '{{ constructor }}'],
  ['toString as a function', '{{ toString() }}'],
  ['hasOwnProperty as a filter', '{{ kiosk_url | hasOwnProperty }}'],
  ['constructor as a filter', '{{ kiosk_url | constructor }}'],
  ['constructor as a test', '{{ kiosk_url is constructor }}'],
  ['setting __proto__', '{% set __proto__ = {"polluted": 1} %}{{ kiosk_url }}'],
  ['a dict literal with __proto__', '{{ { "__proto__": { "polluted": 1 } } }}'],
  ["the sandbox's own helpers", '{{ __fleet_lookup(1, "env", "MENDER_ACCESS_TOKEN") }}'],
  // Globals of the host.
  ['process', '{{ process.env.MENDER_ACCESS_TOKEN }}'],
  ['globalThis', '{{ globalThis.process }}'],
  ['require', '{{ require("child_process") }}'],
  ['an unbounded range', '{{ range(1000000000) | length }}'],
  // Python-style escapes, as against Jinja2.
  ['__class__.__mro__', "{{ ''.__class__.__mro__[1].__subclasses__() }}"],
  ['__globals__', '{{ lipsum.__globals__.os.popen("id").read() }}'],
  ['__init__.__globals__', '{{ cycler.__init__.__globals__.os }}'],
  ['self._TemplateReference__context', '{{ self._TemplateReference__context }}'],
  ['request.application', '{{ request.application.__self__._get_data_for_json }}'],
  ['attr filter', '{{ kiosk_url | attr("__class__") }}'],
  // Reading other files.
  ['include', '{% include "/etc/passwd" %}'],
  ['import', '{% import "/etc/passwd" as x %}'],
  ['from import', '{% from "/etc/passwd" import x %}'],
  ['extends', '{% extends "/etc/passwd" %}'],
  // Lookups: only the named variables, never a credential, no other kind.
  ['an environment variable not allowed', "{{ lookup('env', 'MENDER_ACCESS_TOKEN') }}"],
  ['the passphrase', "{{ lookup('env', 'PULUMI_CONFIG_PASSPHRASE') }}"],
  ['a cloud secret', "{{ lookup('env', 'AWS_SECRET_ACCESS_KEY') }}"],
  ['a pipe lookup', "{{ lookup('pipe', 'id') }}"],
  ['a file lookup', "{{ lookup('file', '/etc/passwd') }}"],
  // An allowed secret in an error message is shown as [secret].
  ['an allowed secret in a failing filter', "{{ lookup('env', 'KIOSK_PIN') | from_json }}"],
  ['an allowed secret as a mandatory message', "{{ nothing | mandatory(lookup('env', 'KIOSK_PIN')) }}"],
];

// The attempt stands on line 2 as it is: it never renders, so the JSON around it needs no escaping.
const templateWith = (line: string) => ['{', `  "kiosk_url": "${line}",`, '  "image": "{{ desired_os_image }}"', '}', ''].join('\n');

function validate(line: string) {
  const dir = writeFleet({ ...baseFleet, 'templates/kiosk.json': templateWith(line) });
  try {
    return validateFleetOffline(dir, secrets).issues.map(formatIssue);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('templates are data', () => {
  afterEach(() => {
    // Nothing any attempt asked for happened.
    expect(fs.existsSync(MARKER)).toBe(false);
    expect((globalThis as { fleetPwned?: unknown }).fleetPwned).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it.each(ATTEMPTS)('refuses %s with the file and line, printing no value', (_what, line) => {
    const issues = validate(line);
    expect(issues.length).toBeGreaterThan(0);
    for (const issue of issues) {
      expect(issue).toMatch(/^templates\/kiosk\.json:2: for device [0-9a-f-]{36}: does not render: /);
      for (const value of VALUES) expect(issue).not.toContain(value);
    }
  });

  it('says why, in words a fleet author can act on', () => {
    expect(validate('{{ range.constructor("x") }}')[0]).toContain("the attribute 'constructor' is refused: a fleet template reaches only the fleet's values, never JavaScript or the host");
    expect(validate('{% include "x" %}')[0]).toContain('{% include %} is not supported: a fleet template is one file and reads no other');
    expect(validate('{{ kiosk_url.toUpperCase() }}')[0]).toContain("'str' has no method 'toUpperCase' a fleet template can call (a str offers upper, lower,");
    expect(validate("{{ lookup('env', 'MENDER_ACCESS_TOKEN') }}")[0]).toContain(
      "lookup('env', 'MENDER_ACCESS_TOKEN'): MENDER_ACCESS_TOKEN is not in fleet:lookupEnv (set in Pulumi.canary.yaml); MENDER_ACCESS_TOKEN holds a credential of the runner and can never be read by a template",
    );
    expect(validate("{{ lookup('env', 'OTHER_PIN') }}")[0]).toContain("add OTHER_PIN to fleet:lookupEnv in the stack's Pulumi.<stack>.yaml");
    expect(validate("{{ nothing | mandatory(lookup('env', 'KIOSK_PIN')) }}")[0]).toMatch(/does not render: \[secret\]$/);
  });

  it('still renders what Ansible users write: Python methods on values, macros, loops, the allowed lookup', () => {
    const dir = writeFleet({
      ...baseFleet,
      'templates/kiosk.json': [
        '{% macro host(u) %}{{ u.split("/")[2] }}{% endmacro %}',
        '{',
        '  "kiosk_url": "{{ kiosk_url | mandatory }}",',
        '  "host": "{{ host(kiosk_url) }}",',
        '  "upper": "{{ kiosk_url.upper() }}",',
        '  "https": "{{ kiosk_url.startswith(("http:", "https:")) }}",',
        '  "keys": "{% for k, v in {"a": 1, "b": 2}.items() %}{{ k }}={{ v }};{% endfor %}",',
        '  "get": "{{ {"a": 1}.get("b", "none") }}",',
        '  "last": "{{ [1, 2, 3][-1] }}",',
        '  "range": "{{ range(3) | join(",") }}",',
        '  "cycle": "{% set c = cycler("x", "y") %}{{ c.next() }}{{ c.next() }}{{ c.next() }}",',
        '  "pin": "{{ lookup("env", "KIOSK_PIN") | length }}",',
        '  "image": "{{ desired_os_image }}"',
        '}',
        '',
      ].join('\n'),
    });
    try {
      const result = validateFleetOffline(dir, secrets);
      expect(result.issues.map(formatIssue)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a fleet file that is a symbolic link (it could point at the runner\'s environment)', () => {
    const dir = writeFleet({ ...baseFleet });
    const host = 'host_vars/3fb4632b-96b9-475d-ac89-02255bd15b6f.yml';
    fs.rmSync(path.join(dir, host));
    fs.symlinkSync('/proc/self/environ', path.join(dir, host));
    fs.symlinkSync('/etc/passwd', path.join(dir, 'templates', 'passwd.json'));
    try {
      const issues = validateFleetOffline(dir, secrets).issues.map(formatIssue);
      expect(issues).toEqual([
        `${host}: ${host} is a symbolic link; the fleet description holds files, not links (replace it by the file it points to)`,
        'templates/passwd.json: templates/passwd.json is a symbolic link; the fleet description holds files, not links (replace it by the file it points to)',
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('fleet:lookupEnv', () => {
  it('can never allow a credential of Mender, Pulumi, a cloud or GitHub', () => {
    const names = ['KIOSK_PIN', 'MENDER_ACCESS_TOKEN', 'PULUMI_CONFIG_PASSPHRASE', 'AWS_SECRET_ACCESS_KEY', 'GITHUB_TOKEN', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'AZURE_CLIENT_SECRET', 'GOOGLE_CREDENTIALS', 'not a name'];
    const { names: allowed, issues } = checkLookupEnv(names, 'Pulumi.canary.yaml', (i) => (i === undefined ? 3 : 4 + i));
    expect([...allowed]).toEqual(['KIOSK_PIN']);
    expect(issues.map(formatIssue)).toEqual([
      ...['MENDER_ACCESS_TOKEN', 'PULUMI_CONFIG_PASSPHRASE', 'AWS_SECRET_ACCESS_KEY', 'GITHUB_TOKEN', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'AZURE_CLIENT_SECRET', 'GOOGLE_CREDENTIALS'].map((name, i) =>
        expect.stringMatching(new RegExp(`^Pulumi\\.canary\\.yaml:${5 + i}: fleet:lookupEnv cannot allow ${name}: `)),
      ),
      'Pulumi.canary.yaml:12: fleet:lookupEnv[8] is not an environment variable name (letters, digits and _, not starting with a digit)',
    ]);
    expect(checkLookupEnv('KIOSK_PIN', 'Pulumi.canary.yaml', () => 3).issues.map(formatIssue)).toEqual([
      'Pulumi.canary.yaml:3: fleet:lookupEnv must be a list of environment variable names, e.g. [RUNNER_ACCESS_TOKEN]',
    ]);
  });

  it("reads the stack file's list, else Pulumi.yaml's default, with the line of a refused name (through the settings stage)", () => {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), 'lookup-env-'));
    try {
      fs.writeFileSync(path.join(project, 'Pulumi.yaml'), 'name: fleet\nconfig:\n  lookupEnv:\n    type: array\n    default: [RUNNER_TOKEN]\n');
      fs.writeFileSync(path.join(project, 'Pulumi.canary.yaml'), 'config:\n  fleet:branch: canary\n  fleet:lookupEnv:\n    - KIOSK_PIN\n    - MENDER_PASSWORD\n    - 9LIVES\n');
      fs.writeFileSync(path.join(project, 'Pulumi.staging.yaml'), 'config:\n  fleet:lookupEnv: KIOSK_PIN\n');
      const canary = validationSecrets(project, 'canary', {});
      expect([...canary.secrets.lookupEnv]).toEqual(['KIOSK_PIN']);
      expect(canary.secrets.lookupEnvSource).toBe('Pulumi.canary.yaml');
      expect(canary.issues.map(formatIssue)).toEqual([
        expect.stringMatching(/^Pulumi\.canary\.yaml:5: fleet:lookupEnv cannot allow MENDER_PASSWORD: /),
        'Pulumi.canary.yaml:6: fleet:lookupEnv[2] is not an environment variable name (letters, digits and _, not starting with a digit)',
      ]);
      // The engine hands a program a plain string as it is, which is not a list.
      expect(validationSecrets(project, 'staging', {}).issues.map(formatIssue)).toEqual(['Pulumi.staging.yaml:2: fleet:lookupEnv is not a list (got "KIOSK_PIN")']);
      const production = validationSecrets(project, 'production', {});
      expect([...production.secrets.lookupEnv]).toEqual(['RUNNER_TOKEN']);
      expect(production.secrets.lookupEnvSource).toBe('Pulumi.yaml');
      expect([...validationSecrets(project, undefined, {}).secrets.lookupEnv]).toEqual(['RUNNER_TOKEN']);
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  });

  it('hands the templates the stack\'s fleet: keys as the program does, a sealed secret unset', () => {
    const project = fs.mkdtempSync(path.join(os.tmpdir(), 'lookup-env-'));
    try {
      fs.writeFileSync(path.join(project, 'Pulumi.yaml'), 'name: fleet\nconfig:\n  site:\n    type: string\n    default: lab\n  strict:\n    type: boolean\n');
      fs.writeFileSync(path.join(project, 'Pulumi.canary.yaml'), 'config:\n  fleet:site: zurich\n  fleet:apiKey:\n    secure: v1:abc\n');
      const { secrets, issues } = validationSecrets(project, 'canary', {});
      expect(issues).toEqual([]);
      expect(secrets.config).toEqual({ site: 'zurich', apiKey: undefined });
      expect([...secrets.secretConfigKeys]).toEqual(['apiKey']);
    } finally {
      fs.rmSync(project, { recursive: true, force: true });
    }
  });
});

describe('fleet validate with an injection and the ring credentials in its environment', () => {
  it('exits 1 naming file and line; no command ran and no value is printed', async () => {
    const dir = writeFleet({
      ...baseFleet,
      'templates/kiosk.json': templateWith(`{{ range.constructor("${RUN}")() }}`),
      'group_vars/pi3.yml': `subscribed_branch: "{{ lookup('env', 'MENDER_ACCESS_TOKEN') }}"\n`,
    });
    try {
      const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [path.join(repoRoot, 'bin', 'fleet.js'), 'validate', '--fleet', dir, '--project', repoRoot, '--stack', 'canary'], { env: { ...process.env, ...ENV } }, (error, stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^templates\/kiosk\.json:2: for device 3fb4632b-96b9-475d-ac89-02255bd15b6f: does not render: the attribute 'constructor' is refused/m);
      expect(result.stderr).toMatch(/^group_vars\/pi3\.yml:1: for device 50a28c2e-3ee8-4559-a5b9-3ce47c881c5d: subscribed_branch does not render: lookup\('env', 'MENDER_ACCESS_TOKEN'\)/m);
      for (const value of VALUES) expect(result.stdout + result.stderr).not.toContain(value);
      expect(fs.existsSync(MARKER)).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
