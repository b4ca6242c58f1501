import * as path from 'node:path';
import { formatIssue } from '../program/description/issues';
import { validateFleetOffline } from '../program/description/validate';
import { validationSecrets } from './stack-pipeline';

export interface ValidateOptions {
  fleet: string;
  stack?: string;
  project: string;
  templates?: string;
  strict: boolean;
}

/** `fleet validate` (cli/commands/validate.ts): every check that needs no Mender server; exit 1 when anything is wrong. */
export function runValidate(opts: ValidateOptions): void {
  const dir = path.resolve(opts.fleet);
  // lookup('env', …) reads this process's environment, as the program does in CI, but only
  // the names the stack allows.
  const settings = validationSecrets(path.resolve(opts.project), opts.stack, process.env);
  const { fleet, issues, warnings } = validateFleetOffline(dir, settings.secrets, { strict: opts.strict, templates: opts.templates });
  const errors = [...settings.issues, ...issues];
  for (const warning of warnings) console.error(`warning: ${formatIssue(warning)}`);
  if (!fleet || settings.issues.length > 0) {
    for (const issue of errors) console.error(formatIssue(issue));
    console.error(`${errors.length} error${errors.length === 1 ? '' : 's'} in ${opts.fleet}`);
    process.exitCode = 1;
    return;
  }
  console.log(`${opts.fleet}: ${fleet.devices.length} devices in ${fleet.groups.size} groups, ${fleet.templates.size} templates: valid`);
}
