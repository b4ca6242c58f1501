// `fleet emulator`: runs the Mender emulator in the foreground until SIGINT/SIGTERM.
import { Command, InvalidArgumentError } from 'commander';
import { startEmulator, WorldError } from '../emulator';
import { emptyWorld, loadWorldFile } from '../emulator/world';

/** Realistic-but-watchable timing for demos: devices poll every 5 s, each step takes 2 s. */
const CLI_TIMING = { pollIntervalMs: 5000, stepMs: 2000, slowFactor: 10, tickMs: 100 };

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
    .action(async (opts: { port: number; world?: string; token?: string; state?: string; pollMs?: number }) => {
      let world;
      try {
        world = opts.world ? loadWorldFile(opts.world) : emptyWorld();
      } catch (err) {
        if (err instanceof WorldError) {
          process.stderr.write(`${err.message}\n`);
          process.exit(2);
        }
        throw err;
      }
      if (opts.token) world.tokens.push(opts.token);
      const emu = await startEmulator({
        world,
        port: opts.port,
        statePath: opts.state,
        timing: { ...CLI_TIMING, ...(opts.pollMs ? { pollIntervalMs: opts.pollMs } : {}) },
      });
      process.stdout.write(`listening on ${emu.url}\n`);
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        process.stdout.write(`${signal}: stopping\n`);
        emu.close().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`error while stopping: ${String(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
