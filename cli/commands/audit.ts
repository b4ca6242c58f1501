import { Command, InvalidArgumentError } from 'commander';
import type { AuditCommandOptions } from '../audit';

const version = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a version is a positive whole number (see `fleet audit` or `pulumi stack history`)');
  return n;
};

/** `fleet audit`: every update of a ring stack, who applied which commit, and what changed on the fleet. */
export function registerAuditCommand(program: Command): void {
  program
    .command('audit')
    .description("each update of a ring's stack: when, which commit, by whom, and what changed on the fleet")
    .requiredOption('--stack <ring>', 'the ring stack (its branch name, e.g. canary or production, or organization/fleet/<ring>)')
    .option('--from <version>', 'first update to show', version)
    .option('--to <version>', 'last update to show', version)
    .option('--json', 'machine-readable entries')
    .action(async (opts: AuditCommandOptions) => {
      const { runAudit } = await import('../audit');
      await runAudit(opts);
    });
}
