import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { registerAuditCommand } from './commands/audit';
import { registerDemoCommand } from './commands/demo';
import { registerEmulatorCommand } from './commands/emulator';
import { registerPlanCommand } from './commands/plan';
import { registerRecoverCommand } from './commands/recover';
import { registerStatusCommand } from './commands/status';
import { registerValidateCommand } from './commands/validate';
import { repoRoot } from './workspace';

/** An example per command, shown under its help and in the overview. */
const EXAMPLES: Record<string, string> = {
  validate: 'npx fleet validate --fleet fleet --stack canary',
  plan: 'npx fleet plan --stack canary',
  status: 'npx fleet status --stack canary',
  audit: 'npx fleet audit --stack production',
  recover: 'npx fleet recover --stack canary',
  demo: 'npm run demo',
  emulator: 'npx fleet emulator --world demo/world.yaml --token my-pat',
};

/** Entry point of the `fleet` command (bin/fleet.js). */
export async function main(argv: string[]): Promise<void> {
  const program = new Command('fleet')
    .description('A Mender device fleet, described in Git and applied with Pulumi')
    .version(packageVersion(), '-V, --version', 'the version of mender-fleet');
  // In the order a person uses them: check the fleet, see what an up would do, (pulumi up),
  // see where the fleet stands and who changed what, heal a killed up; then the try-outs.
  // Each declares only its options here (commands/); its action loads its implementation when
  // it runs, so --version and --help load none, and a command none of the others': the audit's
  // alone took 1.1 s to load (the AWS SDK, the Automation API and the TypeScript compiler).
  registerValidateCommand(program);
  registerPlanCommand(program);
  registerStatusCommand(program);
  registerAuditCommand(program);
  registerRecoverCommand(program);
  registerDemoCommand(program);
  registerEmulatorCommand(program);
  for (const command of program.commands) {
    const example = EXAMPLES[command.name()];
    if (example) command.addHelpText('after', `\nExample:\n  ${example}`);
  }
  program.addHelpText('after', `\nExamples, in the order of use:\n${program.commands.map((c) => `  ${EXAMPLES[c.name()] ?? ''}`).join('\n')}\n  npm run pulumi -- up --stack canary   (between plan and status: the apply itself)`);
  await program.parseAsync(argv);
}

function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
}
