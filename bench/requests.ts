// The emulator's request log in the benchmarks' terms: requests per endpoint (ids folded), and
// which of them change Mender.

export interface RequestLogEntry {
  method: string;
  path: string;
  status: number;
}

/** A request that changes Mender (an inventory search and a login only read). */
export const MUTATING = (r: RequestLogEntry) =>
  r.method !== 'GET' && !(r.method === 'POST' && /\/inventory\/filters\/search$|\/useradm\/auth\/login$/.test(r.path));

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$|^[0-9a-f]{24}$/i;
/** /api/.../deployments/<uuid>/statistics → /api/.../deployments/:id/statistics */
export function endpoint(r: RequestLogEntry): string {
  const segments = r.path.split('/').map((s, i, all) => {
    if (UUID.test(s)) return ':id';
    if (i > 0 && ['releases', 'groups'].includes(all[i - 1]) && s !== 'list') return ':name';
    return s;
  });
  return `${r.method} ${segments.join('/')}`;
}

/** Requests per endpoint, most first. */
export function perEndpoint(log: RequestLogEntry[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const r of log) counts.set(endpoint(r), (counts.get(endpoint(r)) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}
