import * as path from 'node:path';
import { Command } from 'commander';

export function registerRecoverCommand(program: Command): void {
  program
    .command('recover')
    .description('after an interrupted `pulumi up`: stop what it left running on this host, remove its stale lock (file, s3, gs, azblob backends) or cancel it (Pulumi Cloud), drop its pending operations, never touching a live update')
    .requiredOption('--stack <ring>', 'the stack (ring) to recover')
    .option('--min-age <seconds>', 'refuse a lock of another host (on Pulumi Cloud: a running update) younger than this (its process cannot be checked from here; on this host the process decides)', '600')
    .option(
      '--other-hosts-gone',
      'a lock of another host (on Pulumi Cloud: a running update) is stale at once, whatever its age: only where no other job can update the stack meanwhile (one concurrency group) and an ended job takes its host with it (GitHub-hosted runners)',
      false,
    )
    .option('--cwd <dir>', 'the Pulumi project directory', process.cwd())
    .action(async (options: { stack: string; minAge: string; otherHostsGone: boolean; cwd: string }) => {
      const minAgeSeconds = Number(options.minAge);
      if (!Number.isFinite(minAgeSeconds) || minAgeSeconds < 0) throw new Error(`recover: --min-age must be a number of seconds ≥ 0, not "${options.minAge}"`);
      const { recover } = await import('../recover');
      const outcome = await recover({ stack: options.stack, minAgeSeconds, otherHostsGone: options.otherHostsGone, cwd: path.resolve(options.cwd), env: process.env, log: (line) => console.log(line) });
      if (outcome === 'refused') process.exitCode = 2;
    });
}
