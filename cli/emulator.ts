// `fleet emulator` (cli/commands/emulator.ts): runs the Mender emulator in the foreground until SIGINT/SIGTERM.
import { startEmulator, WorldError } from '../emulator';
import { emptyWorld, loadWorldFile } from '../emulator/world';

/** Realistic-but-watchable timing for demos: devices poll every 5 s, each step takes 2 s. */
const CLI_TIMING = { pollIntervalMs: 5000, stepMs: 2000, slowFactor: 10, tickMs: 100 };

export interface EmulatorCommandOptions {
  port: number;
  world?: string;
  token?: string;
  state?: string;
  pollMs?: number;
}

export async function runEmulator(opts: EmulatorCommandOptions): Promise<void> {
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
}
