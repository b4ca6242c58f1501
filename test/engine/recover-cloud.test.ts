// `fleet recover` on a Pulumi Cloud backend, through the real CLI against a stand-in service
// (test/helpers/pulumi-service.ts: Pulumi Cloud cannot run here; the stand-in answers only the
// endpoints the CLI calls). The service says when the stack's running update started, nothing
// about its host: recover refuses it while younger than --min-age, cancels it (`pulumi cancel`)
// once older or at once with --other-hosts-gone, then drops the pending operations through
// `pulumi stack export` / `import`.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ServiceUpdate, StandInService, startStandInService } from '../helpers/pulumi-service';
import { repoRoot } from '../helpers/pulumi';

const program = path.join(repoRoot, 'test', 'fixtures', 'resources-program');
const STACK = 'canary';
const URN = `urn:pulumi:${STACK}::resources-probe::pulumi-nodejs:dynamic/mender:MenderDeployment::pi4-2026.12`;

const deployment = () => ({
  // The magic cookie is the SHA-256 of the version (pkg/resource/deploy/manifest.go, NewMagic).
  manifest: { time: '2026-12-01T00:00:00Z', magic: createHash('sha256').update('v3.248.0').digest('hex'), version: 'v3.248.0' },
  resources: [],
  pending_operations: [{ type: 'creating', resource: { urn: URN, custom: true, type: 'pulumi-nodejs:dynamic/mender:MenderDeployment', inputs: { namePrefix: STACK, artifactName: 'pi4-2026.12' } } }],
});

const updates = (runningFor: number): ServiceUpdate[] => [
  { id: 'b71c0f3e-update-2', version: 2, kind: 'update', startTime: new Date(Date.now() - runningFor * 1000), result: 'in-progress' },
  { id: 'a0e49d12-update-1', version: 1, kind: 'update', startTime: new Date(Date.now() - 86_400_000), result: 'succeeded' },
];

describe('fleet recover on Pulumi Cloud (a stand-in service)', () => {
  let home: string;
  const services: StandInService[] = [];

  beforeAll(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-recover-cloud-'));
  });

  afterAll(async () => {
    for (const service of services) await service.close();
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  const serviceWith = async (runningFor: number) => {
    const service = await startStandInService({ org: 'acme', project: 'resources-probe', stack: STACK, token: 'pul-stand-in-9f2e', deployment: deployment(), updates: updates(runningFor) });
    services.push(service);
    return service;
  };

  const recover = (service: StandInService, args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const env: NodeJS.ProcessEnv = { ...process.env, PULUMI_BACKEND_URL: service.url, PULUMI_ACCESS_TOKEN: service.token, PULUMI_CONFIG_PASSPHRASE: 'cloud-test-passphrase', PULUMI_HOME: home, NO_COLOR: '1' };
      execFile('node', [path.join(repoRoot, 'bin', 'fleet.js'), 'recover', '--stack', STACK, ...args], { cwd: program, env }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
      );
    });

  it('refuses a running update younger than --min-age and changes nothing', async () => {
    const service = await serviceWith(60);
    const started = service.stack.updates[0].startTime.getTime();
    const asked = Date.now();
    const refused = await recover(service, ['--min-age', '2700']);
    const answered = Date.now();
    expect(refused.code).toBe(2);
    expect(refused.stdout).toMatch(
      new RegExp(`^recover: ${STACK}: refused: update #2 \\(started \\S+ on ${service.url.replace(/\./g, '\\.')}\\) may still run: it started \\d+ s ago, younger than --min-age 2700 s \\(the service does not say on which host\\)\\n`),
    );
    // The age recover saw, bounded by the clock around its run (a loaded machine may take more than 10 s).
    const age = Number(/it started (\d+) s ago/.exec(refused.stdout)![1]);
    expect(age).toBeGreaterThanOrEqual(Math.floor((asked - started) / 1000) - 1);
    expect(age).toBeLessThanOrEqual(Math.ceil((answered - started) / 1000));
    expect(service.requests.filter((r) => r.startsWith('POST'))).toEqual([]);
    expect(service.stack.updates[0].result).toBe('in-progress');
    expect(service.stack.deployment.deployment.pending_operations).toHaveLength(1);
  });

  it.each([
    ['older than --min-age', 3600, ['--min-age', '2700']],
    ['--other-hosts-gone, whatever its age', 60, ['--min-age', '2700', '--other-hosts-gone']],
  ])('cancels a running update %s, then removes its pending operations', async (_case, runningFor, args) => {
    const service = await serviceWith(runningFor);
    const recovered = await recover(service, args);
    expect(recovered.stderr).toBe('');
    expect(recovered.code).toBe(0);
    const started = new Date(Math.floor(service.stack.updates[0].startTime.getTime() / 1000) * 1000).toISOString();
    expect(recovered.stdout.trim().split('\n')).toEqual([
      `recover: ${STACK}: cancelled the stale update #2 (started ${started}) on ${service.url}`,
      `recover: ${STACK}: removed the pending operation "creating" of ${URN}`,
      `recover: ${STACK}: next up: MenderDeployment pi4-2026.12 adopts the unfinished Mender deployments named "${STACK}:pi4-2026.12:…" and deploys only to devices that neither run pi4-2026.12 nor are on their way to it`,
    ]);
    const base = `/api/stacks/acme/resources-probe/${STACK}`;
    // The CLI's calls that changed something: the cancel, then the import of the state without them.
    expect(service.requests.filter((r) => r.startsWith('POST'))).toEqual([`POST ${base}/update/b71c0f3e-update-2/cancel`, `POST ${base}/import`]);
    expect(service.requests).toContain(`GET ${base}/updates`);
    expect(service.stack.updates[0].result).toBe('failed');
    expect(service.stack.deployment.deployment.pending_operations ?? []).toEqual([]);

    // Nothing is left to recover.
    const again = await recover(service, args);
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toBe(`recover: ${STACK}: no stale lock, no pending operation: nothing to do`);
  });
});
