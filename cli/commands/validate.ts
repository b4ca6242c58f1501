import { Command } from 'commander';
import type { ValidateOptions } from '../validate';

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
    .action(async (opts: ValidateOptions) => {
      const { runValidate } = await import('../validate');
      runValidate(opts);
    });
}
