import * as path from 'node:path';
import { Command } from 'commander';
import { formatIssue } from '../program/description/issues';
import { validateFleetOffline } from '../program/description/validate';
import { validationSecrets } from './stack-pipeline';

/** `fleet validate`: every check that needs no Mender server; exit 1 when anything is wrong. */
export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check the fleet description offline (files, keys, device ids, variables, templates)')
    .option('--fleet <dir>', 'the fleet description folder', 'fleet')
    .option('--stack <ring>', "the ring stack whose fleet:lookupEnv applies (Pulumi.<ring>.yaml); without it, Pulumi.yaml's default")
    .option('--project <dir>', 'the folder of Pulumi.yaml and the stack files', '.')
    .option('--templates <dir>', 'the template folder inside the fleet folder (default: templates/, then roles/apply_configuration/templates/)')
    .option('--strict', 'host_vars of devices not in the inventory are errors, not warnings', false)
    .action((opts: { fleet: string; stack?: string; project: string; templates?: string; strict: boolean }) => {
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
    });
}
