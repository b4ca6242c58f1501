import * as path from 'node:path';
import { Command } from 'commander';
import { repoRoot } from '../workspace';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('apply the example fleet to the bundled Mender emulator, ring by ring')
    .option('--world <file>', 'the emulator world', path.join(repoRoot, 'demo', 'world.yaml'))
    .action(async (opts: { world: string }) => {
      const { runDemo } = await import('../demo');
      process.exitCode = await runDemo({ world: path.resolve(opts.world) });
    });
}
