import { RunningEmulator, startEmulator, Timing, World } from '../../emulator';
import { MenderClient } from '../../provider/mender';
import { runningImages } from '../../provider/mender/observed';

export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
}

/** Requests that change something on the server; inventory search and login are reads. */
export function mutating(requests: LoggedRequest[]): LoggedRequest[] {
  return requests.filter(
    (r) => r.method !== 'GET' && r.method !== 'HEAD' && !(r.method === 'POST' && /\/inventory\/filters\/search$|\/useradm\/auth\/login$/.test(r.path)),
  );
}

/** A deployment as Mender's list and get endpoints return it (the fields the tests read). */
export interface ApiDeployment {
  id: string;
  name: string;
  artifact_name: string;
  status: string;
  type?: string;
  statistics?: { status: Record<string, number> };
}

export interface EmulatorHandle {
  emulator: RunningEmulator;
  admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  requests(): Promise<LoggedRequest[]>;
  clearRequests(): Promise<void>;
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /**
   * The OS image a device runs, as the project tells it (provider/mender/observed.ts): after a
   * configuration deployment a device's artifact_name is `configuration-<id>`.
   */
  osImage(id: string): Promise<string | undefined>;
}

export async function emulatorFor(world: World, token: string, timing?: Partial<Timing>): Promise<EmulatorHandle> {
  const emulator = await startEmulator({ world, port: 0, timing });
  const call = async <T>(method: string, path: string, body: unknown, auth: boolean): Promise<T> => {
    const res = await fetch(`${emulator.url}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(auth ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  };
  return {
    emulator,
    admin: (method, path, body) => call(method, `/__emulator${path}`, body, false),
    requests: () => call('GET', '/__emulator/requests', undefined, false),
    clearRequests: () => call('DELETE', '/__emulator/requests', undefined, false),
    api: (method, path, body) => call(method, path, body, true),
    osImage: async (id) => {
      const client = new MenderClient({ serverUrl: emulator.url, token });
      try {
        return (await runningImages(client, [id])).get(id);
      } finally {
        client.close();
      }
    },
  };
}
