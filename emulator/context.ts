// Everything a route handler needs, passed explicitly instead of living in module globals, so
// several emulators can run in one process (tests do).
import type { Clock } from './clock';
import type { DeploymentsService } from './deployments';
import type { DevauthService } from './devauth';
import type { DeviceconfigService } from './deviceconfig';
import type { Simulation } from './devices';
import type { Faults } from './faults';
import type { RequestLog } from './request-log';
import type { Store } from './store';
import type { Timing } from './types';

export interface EmulatorContext {
  store: Store;
  clock: Clock;
  timing: Timing;
  deployments: DeploymentsService;
  deviceconfig: DeviceconfigService;
  devauth: DevauthService;
  simulation: Simulation;
  requestLog: RequestLog;
  faults: Faults;
  /** Persists the store if a state file is configured; resolves once it is on disk. */
  persist(): Promise<void>;
  baseUrl(): string;
}
