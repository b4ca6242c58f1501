import * as path from 'node:path';
import { Command } from 'commander';
import { formatIssue } from '../program/description/issues';
import { validateFleetOffline } from '../program/description/validate';

/** `fleet validate`: every check that needs no Mender server; exit 1 when anything is wrong. */
export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check the fleet description offline (files, keys, device ids, variables, templates)')
    .option('--fleet <dir>', 'the fleet description folder', 'fleet')
    .option('--templates <dir>', 'the template folder inside the fleet folder (default: templates/, then roles/apply_configuration/templates/)')
    .option('--strict', 'host_vars of devices not in the inventory are errors, not warnings', false)
    .action((opts: { fleet: string; templates?: string; strict: boolean }) => {
      const dir = path.resolve(opts.fleet);
      // lookup('env', …) reads this process's environment, as the program does in CI.
      const { fleet, issues, warnings } = validateFleetOffline(dir, { env: process.env, config: {}, secretConfigKeys: new Set() }, { strict: opts.strict, templates: opts.templates });
      for (const warning of warnings) console.error(`warning: ${formatIssue(warning)}`);
      if (!fleet) {
        for (const issue of issues) console.error(formatIssue(issue));
        console.error(`${issues.length} error${issues.length === 1 ? '' : 's'} in ${opts.fleet}`);
        process.exitCode = 1;
        return;
      }
      console.log(`${opts.fleet}: ${fleet.devices.length} devices in ${fleet.groups.size} groups, ${fleet.templates.size} templates: valid`);
    });
}
