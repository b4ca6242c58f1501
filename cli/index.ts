import { Command } from 'commander';
import { registerAuditCommand } from './audit';
import { registerDemoCommand } from './demo';
import { registerEmulatorCommand } from './emulator';
import { registerPlanCommand } from './plan';
import { registerRecoverCommand } from './recover';
import { registerStatusCommand } from './status';
import { registerValidateCommand } from './validate';

/** Entry point of the `fleet` command (bin/fleet.js). */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('fleet').description('A Mender device fleet, described in Git and applied with Pulumi');
  registerValidateCommand(program);
  registerDemoCommand(program);
  registerEmulatorCommand(program);
  registerAuditCommand(program);
  registerStatusCommand(program);
  registerPlanCommand(program);
  registerRecoverCommand(program);
  await program.parseAsync(argv);
}
