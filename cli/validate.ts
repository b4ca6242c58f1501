import * as path from 'node:path';
import { Command } from 'commander';
import { formatIssue } from '../program/description/issues';
import { validateFleetOffline } from '../program/description/validate';

/** `fleet validate`: every check that needs no Mender server; exit 1 when anything is wrong. */
export function registerValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check the fleet description offline (files, keys, device ids, templates)')
    .option('--fleet <dir>', 'the fleet description folder', 'fleet')
    .action((opts: { fleet: string }) => {
      const dir = path.resolve(opts.fleet);
      const { fleet, issues } = validateFleetOffline(dir, { env: process.env, config: {}, secretConfigKeys: new Set() });
      if (!fleet) {
        for (const issue of issues) console.error(formatIssue(issue));
        console.error(`${issues.length} error${issues.length === 1 ? '' : 's'} in ${opts.fleet}`);
        process.exitCode = 1;
        return;
      }
      console.log(`${opts.fleet}: ${fleet.devices.length} devices in ${fleet.groups.size} groups, ${fleet.templates.size} templates: valid`);
    });
}
