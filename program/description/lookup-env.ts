// Which environment variables `lookup('env', NAME)` may read: only those a stack names in
// `fleet:lookupEnv` (Pulumi.<stack>.yaml), else the project's default (Pulumi.yaml). The runner
// that previews a pull request holds the ring's credentials in its environment, and a fleet
// file is not trusted until merged; so a template reads nothing it was not given by name, and
// the credentials the program itself uses can never be given.
import { FleetIssue } from './issues';

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

/** A problem of `fleet:lookupEnv`; `index` is the item it is about, so that a reader of the files can locate it (cli/stack-pipeline.ts). */
export interface LookupEnvIssue extends FleetIssue {
  index?: number;
}

/**
 * Checks a `fleet:lookupEnv` value (a list of variable names) read from `file`; `line` locates
 * each item when known.
 */
export function checkLookupEnv(value: unknown, file: string, lineOf: (index?: number) => number | undefined): { names: Set<string>; issues: LookupEnvIssue[] } {
  const issues: LookupEnvIssue[] = [];
  const names = new Set<string>();
  if (value === undefined || value === null) return { names, issues };
  if (!Array.isArray(value)) {
    issues.push({ file, line: lineOf(), message: `${LOOKUP_ENV_KEY} must be a list of environment variable names, e.g. [RUNNER_ACCESS_TOKEN]` });
    return { names, issues };
  }
  value.forEach((item: unknown, index) => {
    if (typeof item !== 'string' || !VARIABLE_NAME.test(item)) {
      issues.push({ file, line: lineOf(index), index, message: `${LOOKUP_ENV_KEY}[${index}] is not an environment variable name (letters, digits and _, not starting with a digit)` });
    } else if (isCredentialVariable(item)) {
      issues.push({
        file,
        line: lineOf(index),
        index,
        message: `${LOOKUP_ENV_KEY} cannot allow ${item}: variables of Mender, Pulumi, cloud backends and GitHub (${CREDENTIAL_PREFIXES.join('*, ')}*, ${[...CREDENTIAL_NAMES].join(', ')}) hold the runner's credentials; give the value another name or use a secret stack setting (lookup('config', KEY))`,
      });
    } else {
      names.add(item);
    }
  });
  return { names, issues };
}
