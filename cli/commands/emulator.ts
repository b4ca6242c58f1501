import { Command, InvalidArgumentError } from 'commander';
import type { EmulatorCommandOptions } from '../emulator';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

export function registerEmulatorCommand(program: Command): void {
  program
    .command('emulator')
    .description('run the built-in Mender emulator (a Mender-compatible server with simulated devices)')
    .option('--port <n>', 'port on 127.0.0.1 (0 picks a free one)', port, 0)
    .option('--world <file>', 'world YAML file with artifacts, devices, tokens and users')
    .option('--token <pat>', 'accept this personal access token (in addition to the world\'s)')
    .option('--state <file>', 'persist state to this file and resume from it')
    .option('--poll-ms <ms>', 'simulated device poll interval in milliseconds', (v) => Number(v))
    .action(async (opts: EmulatorCommandOptions) => {
      const { runEmulator } = await import('../emulator');
      await runEmulator(opts);
    });
}
