import { Command } from 'commander';
import type { PlanCommandOptions } from '../plan';

export function registerPlanCommand(program: Command): void {
  program
    .command('plan')
    .description("what an up of a ring's stack would do, in fleet terms (images, ring membership, configuration keys, the promotion gate); reads only")
    .requiredOption('--stack <ring>', 'the ring stack (canary, production)')
    .option('--markdown', `Markdown for a pull request comment, collapsed and kept under its size limit`)
    .option('--config-file <file>', 'the stack configuration file, if not Pulumi.<stack>.yaml')
    .action(async (opts: PlanCommandOptions) => {
      const { runPlan } = await import('../plan');
      await runPlan(opts);
    });
}
