import { Command } from 'commander';
import { registerEmulatorCommand } from './emulator';

/** Entry point of the `fleet` command (bin/fleet.js). */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('fleet').description('A Mender device fleet, described in Git and applied with Pulumi');
  program
    .command('demo')
    .description('run the example fleet against the bundled Mender emulator')
    .action(() => {
      // Exits non-zero on purpose: the fleet program (issue 5) has not landed yet.
      console.error('fleet demo: not yet available: the fleet program and its demo are still being built (issue 5).');
      process.exitCode = 2;
    });
  registerEmulatorCommand(program);
  await program.parseAsync(argv);
}
