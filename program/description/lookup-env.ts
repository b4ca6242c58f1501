// Which environment variables `lookup('env', NAME)` may read: only those a stack names in
// `fleet:lookupEnv` (Pulumi.<stack>.yaml), else the project's default (Pulumi.yaml). The runner
// that previews a pull request holds the ring's credentials in its environment, and a fleet
// file is not trusted until merged; so a template reads nothing it was not given by name, and
// the credentials the program itself uses can never be given.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FleetIssue } from './issues';
import { parseYamlText } from './yaml-file';

export const LOOKUP_ENV_KEY = 'fleet:lookupEnv';

/**
 * Variables no fleet may read: Mender's and Pulumi's credentials, the state backends' (AWS,
 * Azure, Google Cloud), and GitHub's tokens on a runner.
 */
const CREDENTIAL_PREFIXES = ['MENDER_', 'PULUMI_', 'AWS_', 'AZURE_', 'ARM_', 'GOOGLE_', 'GCP_', 'CLOUDSDK_', 'ACTIONS_'];
const CREDENTIAL_NAMES = new Set(['GITHUB_TOKEN', 'GH_TOKEN', 'GH_ENTERPRISE_TOKEN']);

export function isCredentialVariable(name: string): boolean {
  const upper = name.toUpperCase();
  return CREDENTIAL_NAMES.has(upper) || CREDENTIAL_PREFIXES.some((prefix) => upper.startsWith(prefix));
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Checks a `fleet:lookupEnv` value (a list of variable names) read from `file`; `line` locates
 * each item when known.
 */
export function checkLookupEnv(value: unknown, file: string, lineOf: (index?: number) => number | undefined): { names: Set<string>; issues: FleetIssue[] } {
  const issues: FleetIssue[] = [];
  const names = new Set<string>();
  if (value === undefined || value === null) return { names, issues };
  if (!Array.isArray(value)) {
    issues.push({ file, line: lineOf(), message: `${LOOKUP_ENV_KEY} must be a list of environment variable names, e.g. [RUNNER_ACCESS_TOKEN]` });
    return { names, issues };
  }
  value.forEach((item: unknown, index) => {
    if (typeof item !== 'string' || !VARIABLE_NAME.test(item)) {
      issues.push({ file, line: lineOf(index), message: `${LOOKUP_ENV_KEY}[${index}] is not an environment variable name (letters, digits and _, not starting with a digit)` });
    } else if (isCredentialVariable(item)) {
      issues.push({
        file,
        line: lineOf(index),
        message: `${LOOKUP_ENV_KEY} cannot allow ${item}: variables of Mender, Pulumi, cloud backends and GitHub (${CREDENTIAL_PREFIXES.join('*, ')}*, ${[...CREDENTIAL_NAMES].join(', ')}) hold the runner's credentials; give the value another name or use a secret stack setting (lookup('config', KEY))`,
      });
    } else {
      names.add(item);
    }
  });
  return { names, issues };
}

/** A stack's allowed names, from the files alone (for `fleet validate`, which runs no engine). */
export interface LookupEnvSetting {
  names: Set<string>;
  issues: FleetIssue[];
  /** Where the names came from, for messages: `Pulumi.canary.yaml`, `Pulumi.yaml`, or none. */
  source?: string;
}

function readConfigValue(file: string, keyPath: string[], issues: FleetIssue[]): { found: boolean; value: unknown; lineOf: (index?: number) => number | undefined } {
  const absent = { found: false, value: undefined, lineOf: () => undefined };
  if (!fs.existsSync(file)) return absent;
  const name = path.basename(file);
  const yaml = parseYamlText(fs.readFileSync(file, 'utf8'), name, issues);
  if (!yaml) return absent;
  let value: unknown = yaml.data;
  for (const key of keyPath) {
    if (typeof value !== 'object' || value === null || !Object.prototype.hasOwnProperty.call(value, key)) return absent;
    value = (value as Record<string, unknown>)[key];
  }
  return { found: true, value, lineOf: (index?: number) => yaml.lineOf(index === undefined ? keyPath : [...keyPath, index]) };
}

/**
 * `fleet:lookupEnv` as the engine would resolve it for `stack`: the stack file's value, else
 * Pulumi.yaml's `config.lookupEnv.default`. Without a stack, the project default alone.
 */
export function lookupEnvFromProjectFiles(projectDir: string, stack?: string): LookupEnvSetting {
  const issues: FleetIssue[] = [];
  if (stack) {
    const stackFile = path.join(projectDir, `Pulumi.${stack}.yaml`);
    const own = readConfigValue(stackFile, ['config', LOOKUP_ENV_KEY], issues);
    if (own.found) return { ...checkLookupEnv(own.value, path.basename(stackFile), own.lineOf), source: path.basename(stackFile) };
  }
  const projectFile = path.join(projectDir, 'Pulumi.yaml');
  const project = readConfigValue(projectFile, ['config', 'lookupEnv', 'default'], issues);
  if (!project.found) return { names: new Set(), issues };
  const checked = checkLookupEnv(project.value, 'Pulumi.yaml', project.lineOf);
  return { names: checked.names, issues: [...issues, ...checked.issues], source: 'Pulumi.yaml' };
}
