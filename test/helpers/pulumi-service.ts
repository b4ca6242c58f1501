// A stand-in for Pulumi Cloud, for `fleet recover`'s tests only: Pulumi Cloud cannot run here.
// It answers just the endpoints the real CLI (v3.248.0) calls for what recover does, with one
// stack whose update was left running, and records every request. The paths and shapes are the
// CLI's own (pkg/backend/httpstate/client/client.go and sdk/go/common/apitype):
//   GET  /api/user                                   whoami / token check (GetPulumiAccountDetails)
//   GET  /api/user/organizations/default             GetDefaultOrg: the org of `--stack <name>`
//   GET  /api/capabilities                           (GetCapabilities; 404 means none)
//   GET  /api/stacks/{org}/{project}/{stack}          GetStack: apitype.Stack with activeUpdate
//   GET  /api/stacks/{org}/{project}/{stack}/updates  GetStackUpdates: apitype.GetHistoryResponse
//   POST /api/stacks/{org}/{project}/{stack}/update/{id}/cancel    CancelUpdate
//   GET  /api/stacks/{org}/{project}/{stack}/export   ExportStackDeployment
//   POST /api/stacks/{org}/{project}/{stack}/import   ImportStackDeployment: {updateId}
//   GET  /api/stacks/{org}/{project}/{stack}/update/{id}   the import's status (GetUpdateEvents)
// Anything else is a 404 with the path, recorded, so a test sees what the CLI asked for.
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface ServiceUpdate {
  id: string;
  version: number;
  kind: 'update' | 'preview' | 'refresh' | 'destroy';
  startTime: Date;
  result: 'in-progress' | 'succeeded' | 'failed';
}

export interface StandInService {
  url: string;
  token: string;
  /** `METHOD path` of every request, in order. */
  requests: string[];
  /** The stack's deployment (as `pulumi stack export` prints it) and its updates, newest first. */
  stack: { org: string; project: string; name: string; deployment: { version: number; deployment: Record<string, unknown> }; updates: ServiceUpdate[] };
  close(): Promise<void>;
}

export async function startStandInService(opts: { org: string; project: string; stack: string; token: string; deployment: Record<string, unknown>; updates: ServiceUpdate[] }): Promise<StandInService> {
  const stack = { org: opts.org, project: opts.project, name: opts.stack, deployment: { version: 3, deployment: opts.deployment }, updates: opts.updates };
  const requests: string[] = [];
  const base = `/api/stacks/${opts.org}/${opts.project}/${opts.stack}`;
  let imports = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        answer();
      } catch (error) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ code: 500, message: `the stand-in failed: ${(error as Error).message}` }));
      }
    });
    const answer = () => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      requests.push(`${req.method} ${url.pathname}`);
      const send = (status: number, body?: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(body === undefined ? '' : JSON.stringify(body));
      };
      if (req.headers.authorization !== `token ${opts.token}`) return send(401, { code: 401, message: 'Unauthorized: No credentials provided or are invalid.' });
      const route = `${req.method} ${url.pathname}`;
      const active = stack.updates.find((u) => u.result === 'in-progress');
      if (route === 'GET /api/user') return send(200, { githubLogin: 'fleet-ci', name: 'fleet-ci', email: '', organizations: [{ githubLogin: opts.org, name: opts.org }] });
      if (route === 'GET /api/user/organizations/default') return send(200, { GitHubLogin: opts.org, Messages: [] });
      if (route === `GET ${base}`) {
        return send(200, { orgName: opts.org, projectName: opts.project, stackName: opts.stack, activeUpdate: active?.id ?? '', tags: {}, version: stack.updates.length });
      }
      if (route === `GET ${base}/updates`) {
        return send(200, {
          updates: stack.updates.map((u) => ({
            kind: u.kind,
            startTime: Math.floor(u.startTime.getTime() / 1000),
            message: '',
            environment: {},
            config: {},
            result: u.result,
            endTime: u.result === 'in-progress' ? 0 : Math.floor(u.startTime.getTime() / 1000) + 60,
            version: u.version,
          })),
        });
      }
      const cancel = new RegExp(`^POST ${base}/update/([^/]+)/cancel$`).exec(route);
      if (cancel) {
        const update = stack.updates.find((u) => u.id === cancel[1]);
        if (!update || update.result !== 'in-progress') return send(409, { code: 409, message: `update ${cancel[1]} is not running` });
        update.result = 'failed';
        return send(200);
      }
      if (route === `GET ${base}/export`) return send(200, stack.deployment);
      if (route === `POST ${base}/import`) {
        if (active) return send(409, { code: 409, message: 'Conflict: Another update is currently in progress.' });
        // The CLI sends the state gzip-compressed (httpCallOptions GzipCompress).
        const body = Buffer.concat(chunks);
        stack.deployment = JSON.parse((req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString()) as typeof stack.deployment;
        imports++;
        return send(200, { updateId: `import-${imports}` });
      }
      if (new RegExp(`^GET ${base}/update/import-\\d+$`).test(route)) return send(200, { status: 'succeeded', events: [] });
      send(404, { code: 404, message: `the stand-in does not answer ${route}` });
    };
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token: opts.token,
    requests,
    stack,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
