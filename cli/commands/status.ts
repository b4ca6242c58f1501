import { Command } from 'commander';

/** `--watch` reads again this often, and at most this many times. */
const WATCH_EVERY_MS = 15_000;
const WATCH_AT_MOST = 240;

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('desired versus actual per device of a ring (image, configuration, last deployment), and where its rollouts stand, live from Mender')
    .requiredOption('--stack <ring>', 'the ring stack (its branch name, e.g. canary or production)')
    .option('--json', 'machine-readable rows')
    .option('--watch', `read again until nothing changes any more (at most ${WATCH_AT_MOST} times)`)
    .option('--every <seconds>', 'with --watch: how often', String(WATCH_EVERY_MS / 1000))
    .option('--rollouts', 'only where the rollouts stand (for a job summary); exit status 0')
    .action(async (opts: { stack: string; json?: boolean; watch?: boolean; every: string; rollouts?: boolean }) => {
      const every = Number(opts.every) * 1000;
      if (!(every > 0)) throw new Error(`--every must be a number of seconds above 0, not ${JSON.stringify(opts.every)}`);
      const { runStatus } = await import('../status');
      await runStatus({ stack: opts.stack, json: opts.json, rollouts: opts.rollouts, watch: opts.watch ? { everyMs: every, atMost: WATCH_AT_MOST } : undefined });
    });
}
