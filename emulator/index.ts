// In-process entry point: start a Mender-compatible server seeded from a world.
import { Clock } from './clock';
import type { EmulatorContext } from './context';
import { DeploymentsService } from './deployments';
import { DeviceconfigService } from './deviceconfig';
import { DevauthService } from './devauth';
import { Simulation } from './devices';
import { Faults } from './faults';
import { StateFile } from './persistence';
import { RequestLog } from './request-log';
import { buildServer } from './server';
import { attachWorldArtifactFiles, seedStore, Store } from './store';
import { FAST_TIMING, Timing } from './types';
import { emptyWorld, loadWorldFile, parseWorld, World, WorldError } from './world';
import { Workflows } from './workflows';

export { parseWorld, WorldError, FAST_TIMING };
export type { World, Timing };

export interface EmulatorOptions {
  /** A parsed world or the path of a world YAML file. */
  world?: World | string;
  /** 0 or undefined picks a free port; the server always binds 127.0.0.1. */
  port?: number;
  /** State file: loaded at start when it exists (the world then only adds tokens and users), saved atomically. */
  statePath?: string;
  timing?: Partial<Timing>;
  log?: boolean;
  /** Entries the admin API's request log keeps (default 100,000; the benchmark counts more). */
  requestLogLimit?: number;
}

export interface RunningEmulator {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<RunningEmulator> {
  const world = typeof opts.world === 'string' ? loadWorldFile(opts.world) : (opts.world ?? emptyWorld());
  const timing: Timing = { ...FAST_TIMING, ...opts.timing };
  const clock = new Clock(timing.speed);
  const stateFile = opts.statePath ? new StateFile(opts.statePath) : undefined;
  let store: Store;
  if (stateFile?.exists()) {
    store = stateFile.load();
    // Credentials from the world (or the CLI's --token) are always honoured.
    world.tokens.forEach((t) => store.tokens.add(t));
    world.users.forEach((u) => store.users.set(u.email, u.password));
  } else {
    store = seedStore(world, clock.iso());
    await attachWorldArtifactFiles(store, world);
  }

  let url = '';
  let saveTimer: NodeJS.Timeout | undefined;
  const persist = async (): Promise<void> => {
    if (stateFile) await stateFile.save(store);
  };
  // Simulation progress is saved in batches: it is not acknowledged to any client.
  const persistSoon = (): void => {
    if (!stateFile || saveTimer) return;
    saveTimer = setTimeout(() => {
      saveTimer = undefined;
      void persist();
    }, 200);
  };

  // The callback runs only after construction, once `simulation` exists.
  const deployments = new DeploymentsService(store, clock, () => url, (ids) => simulation.wake(ids));
  const workflows = new Workflows(store, clock, deployments, () => timing.workflowDelayMs);
  const deviceconfig = new DeviceconfigService(store, clock, workflows);
  const devauth = new DevauthService(store, clock, deployments);
  const simulation = new Simulation(store, clock, deployments, deviceconfig, workflows, timing, persistSoon);
  const ctx: EmulatorContext = {
    store,
    clock,
    timing,
    deployments,
    deviceconfig,
    devauth,
    simulation,
    requestLog: new RequestLog(opts.requestLogLimit),
    faults: new Faults(),
    persist,
    baseUrl: () => url,
  };

  const app = await buildServer(ctx, { log: opts.log });
  await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? 0);
  url = `http://127.0.0.1:${port}`;
  if (stateFile && !stateFile.exists()) await persist();
  simulation.wakeAllWithWork();
  simulation.start();

  let closed = false;
  return {
    url,
    port,
    async close() {
      if (closed) return;
      closed = true;
      simulation.stop();
      if (saveTimer) clearTimeout(saveTimer);
      await app.close();
      await persist();
    },
  };
}
