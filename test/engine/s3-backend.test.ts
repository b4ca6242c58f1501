// The fleet's state in object storage: the real engine with its S3 backend on a real
// S3-compatible server (MinIO, test/helpers/minio.ts), the root program against the emulator.
// The same three updates run on a file backend too (its own emulator, same world), so the audit
// can be compared line by line: on S3 it reads the checkpoints from the bucket.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { s3HistoryFolder } from '../../cli/s3-backend';
import { EmulatorHandle, emulatorFor, mutating } from '../helpers/emulator';
import { RunningMinio, startMinio } from '../helpers/minio';
import { pulumiWorkspace, PulumiWorkspace, repoRoot, fleetCli } from '../helpers/pulumi';
import { step } from '../helpers/step';

const TOKEN = 's3-backend-test-token-4b2e';
const A = 'a1a1a1a1-0000-4000-8000-0000000000a1'; // canary, kiosk with a secret pin
const D = 'd4d4d4d4-0000-4000-8000-0000000000d4'; // canary, pi3, no configuration

const world = {
  artifacts: [
    { name: 'pi4-2026.10', device_types: ['pi4-v3-arm64'] },
    { name: 'pi4-2026.11', device_types: ['pi4-v3-arm64'] },
    { name: 'pi3-2026.10', device_types: ['pi3-arm64'] },
  ],
  devices: [
    { id: A, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10' },
    { id: D, device_type: 'pi3-arm64', artifact_name: 'pi3-2026.10' },
  ],
  tokens: [TOKEN],
  users: [],
};

const allYml = (pi4: string) =>
  ['subscribed_branch: production', 'os_image:', '  - device_type: pi4-v3-arm64', `    image_name: ${pi4}`, '  - device_type: pi3-arm64', '    image_name: pi3-2026.10', ''].join('\n');

const fleetFiles: Record<string, string> = {
  'inventory.yml': ['all:', '  children:', '    pi4:', '      hosts:', `        ${A}:`, '    pi3:', '      hosts:', `        ${D}:`, ''].join('\n'),
  'group_vars/all.yml': allYml('pi4-2026.10'),
  [`host_vars/${A}.yml`]: ['subscribed_branch: canary', 'configuration:', '  template: kiosk.json', '  parameters:', '    kiosk_url: https://example.org/canary', ''].join('\n'),
  [`host_vars/${D}.yml`]: 'subscribed_branch: canary\n',
  'templates/kiosk.json': '{\n  "kiosk_url": "{{ kiosk_url | mandatory }}",\n  "kiosk_pin": "{{ lookup(\'env\', \'KIOSK_PIN\') }}",\n  "os_image": "{{ desired_os_image }}"\n}\n',
};

/** Timestamps and the commit line depend on the run; masked. */
const normalised = (text: string) =>
  text.replace(/^#(\d+) \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ {2}commit [0-9a-f]{7}( \(with uncommitted changes\))? by [^"]*? {2}"/gm, '#$1 <time>  commit <head> by <author>  "');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One ring stack on one backend, with its own emulator. */
interface Ring {
  ws: PulumiWorkspace;
  emu: EmulatorHandle;
}

describe('the fleet state in an S3 bucket (MinIO)', () => {
  let minio: RunningMinio;
  let s3: Ring;
  let file: Ring;
  let work: string;
  let configFile: string;
  const stackFile = fs.readFileSync(path.join(repoRoot, 'Pulumi.canary.yaml'), 'utf8');

  /**
   * The up that holds the lock, if a failing step left it running: afterAll brings its device
   * back so it ends normally (a killed CLI would leave its provider process behind).
   */
  let pending: { done: Promise<unknown>; release: () => Promise<unknown> } | undefined;

  const up = (ring: Ring, message: string, env: NodeJS.ProcessEnv = {}) =>
    ring.ws.run(['up', '--yes', '--skip-preview', '--stack', 'canary', '--config-file', configFile, '--message', message], { env });
  const upOk = async (ring: Ring, message: string, env: NodeJS.ProcessEnv = {}) => {
    const result = await up(ring, message, env);
    if (result.code !== 0) throw new Error(`pulumi up (${message}) exited ${result.code}\n${result.stdout}\n${result.stderr}`);
    return result;
  };
  const writeFleet = (name: string, text: string) => fs.writeFileSync(path.join(work, 'fleet', name), text);

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-s3-'));
    for (const [name, text] of Object.entries(fleetFiles)) {
      fs.mkdirSync(path.dirname(path.join(work, 'fleet', name)), { recursive: true });
      fs.writeFileSync(path.join(work, 'fleet', name), text);
    }
    // The ring's stack file with fast polling, so the tracked one stays untouched.
    const salt = /^encryptionsalt: .*$/m.exec(stackFile)![0];
    configFile = path.join(work, 'Pulumi.canary.yaml');
    fs.writeFileSync(configFile, ['config:', '  fleet:branch: canary', '  fleet:pollMilliseconds: 100', '  fleet:lookupEnv: [KIOSK_PIN]', salt, ''].join('\n'));

    minio = await startMinio();
    const ring = async (backend?: { url: string; env: Record<string, string> }): Promise<Ring> => {
      const emu = await emulatorFor(world, TOKEN);
      const ws = pulumiWorkspace(backend);
      // The root stack file carries the salt of the local demo passphrase.
      Object.assign(ws.env, {
        PULUMI_CONFIG_PASSPHRASE: 'mender-fleet-local-demo',
        MENDER_SERVER_URL: emu.emulator.url,
        MENDER_ACCESS_TOKEN: TOKEN,
        FLEET_PATH: path.join(work, 'fleet'),
        KIOSK_PIN: 'pin-1111',
      });
      return { ws, emu };
    };
    s3 = await ring({ url: minio.backendUrl, env: minio.env });
    file = await ring();
  });

  afterAll(async () => {
    if (pending) {
      await pending.release();
      await pending.done;
    }
    for (const ring of [s3, file]) {
      if (!ring) continue;
      await ring.ws.run(['stack', 'rm', 'canary', '--yes', '--force', '--preserve-config']);
      ring.ws.dispose();
      await ring.emu.emulator.close();
    }
    await minio?.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('one ring with its state in the bucket: applied, locked during an update, then its history, status and audit', async () => {
    await step('creates the stack in the bucket', async () => {
      const whoami = JSON.parse((await s3.ws.ok(['whoami', '--json', '--verbose'])).stdout) as { url: string };
      expect(whoami.url).toBe(minio.backendUrl);
      await s3.ws.ok(['stack', 'init', 'canary']);
      await file.ws.ok(['stack', 'init', 'canary']);
      const stacks = JSON.parse((await s3.ws.ok(['stack', 'ls', '--json'])).stdout) as { name: string }[];
      expect(stacks.map((s) => s.name)).toEqual(['canary']);
      expect(await minio.keys('.pulumi/stacks/')).toContain('.pulumi/stacks/fleet/canary.json');
    });
    await step('applies the ring with its state in the bucket', async () => {
      await upOk(s3, 'canary: first apply');
      await upOk(file, 'canary: first apply');
      const history = await minio.keys('.pulumi/history/fleet/canary/');
      expect(history.filter((k) => k.endsWith('.checkpoint.json'))).toHaveLength(1);
      expect(history.filter((k) => k.endsWith('.history.json'))).toHaveLength(1);
      const outputs = JSON.parse((await s3.ws.ok(['stack', 'output', 'devices', '--json', '--show-secrets', '--stack', 'canary'])).stdout) as Record<string, { desiredImage: string }>;
      expect(Object.fromEntries(Object.entries(outputs).map(([id, d]) => [id, d.desiredImage]))).toEqual({ [A]: 'pi4-2026.10', [D]: 'pi3-2026.10' });
    });
    await step('changes nothing on a second up: no mutating request to Mender', async () => {
      await s3.emu.clearRequests();
      const again = await upOk(s3, 'canary: nothing changed');
      expect(again.stdout).toMatch(/Resources:\s+\d+ unchanged\s*\n\s*\n/);
      expect(mutating(await s3.emu.requests())).toEqual([]);
      await upOk(file, 'canary: nothing changed');
    });
    await step('holds the lock in the bucket during an update: a second up at the same time is refused', async () => {
      writeFleet('group_vars/all.yml', allYml('pi4-2026.11'));
      const env = { KIOSK_PIN: 'pin-2222' };
      // The device is offline, so the rollout waits (holding the lock) until it is back.
      await s3.emu.admin('POST', `/devices/${A}/behavior`, { offline: true });
      const release = () => s3.emu.admin('POST', `/devices/${A}/behavior`, {});
      const first = up(s3, 'roll pi4-2026.11 to canary; new pin', env);
      pending = { done: first, release };
      const locks = async () => minio.keys('.pulumi/locks/');
      const started = Date.now();
      while ((await locks()).length === 0) {
        if (Date.now() - started > 180_000) throw new Error('the first up took no lock in the bucket within 180 s');
        await sleep(250);
      }
      const [lock] = await locks();
      expect(lock).toMatch(/^\.pulumi\/locks\/organization\/fleet\/canary\/[0-9a-f-]{36}\.json$/);

      const second = await up(s3, 'a second up at the same time', env);
      expect(second.code).not.toBe(0);
      const refusal = second.stdout + second.stderr;
      expect(refusal).toContain('the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.');
      // The lock's URL (with the backend's query), who holds it and since when.
      const escaped = `s3://${minio.bucket}/${lock}`.replace(/[.?]/g, '\\$&');
      expect(refusal).toMatch(new RegExp(`\\n  ${escaped}\\?\\S*: created by \\S+@\\S+ \\(pid \\d+\\) at \\d{4}-\\d\\d-\\d\\dT`));

      await release();
      const finished = await first;
      pending = undefined;
      if (finished.code !== 0) throw new Error(`the first up failed\n${finished.stdout}\n${finished.stderr}`);
      expect(await locks()).toEqual([]);
      await upOk(file, 'roll pi4-2026.11 to canary; new pin', env);
    });
    await step('shows the stack history from the bucket, without the refused up', async () => {
      const history = JSON.parse((await s3.ws.ok(['stack', 'history', '--json', '--stack', 'canary'])).stdout) as { kind: string; result: string; message: string }[];
      expect(history.map((h) => [h.kind, h.result, h.message])).toEqual([
        ['update', 'succeeded', 'roll pi4-2026.11 to canary; new pin'],
        ['update', 'succeeded', 'canary: nothing changed'],
        ['update', 'succeeded', 'canary: first apply'],
      ]);
    });
    await step('shows the status of the ring from the state in the bucket', async () => {
      const status = await fleetCli(['status', '--stack', 'canary'], s3.ws.env);
      expect(status.stderr).toBe('');
      expect(status.code).toBe(0);
      expect(status.stdout).toContain('all 2 devices of canary converged');
      expect(status.stdout).toMatch(new RegExp(`${A}.*pi4-2026\\.11.*pi4-2026\\.11.*in sync.*success \\(pi4-2026\\.11\\).*ok`));
      expect(status.stdout).toMatch(new RegExp(`${D}.*pi3-2026\\.10.*pi3-2026\\.10.*none.*ok`));
    });
    await step('audits the ring from the checkpoints in the bucket, as on the file backend', async () => {
      const onS3 = await fleetCli(['audit', '--stack', 'canary'], s3.ws.env);
      const onFile = await fleetCli(['audit', '--stack', 'canary'], file.ws.env);
      expect([onS3.code, onS3.stderr]).toEqual([0, '']);
      expect([onFile.code, onFile.stderr]).toEqual([0, '']);
      const expected = [
        '#1 <time>  commit <head> by <author>  "canary: first apply"',
        `    device ${A}: joined the ring canary, image pi4-2026.10`,
        `    device ${A}: configuration set (keys kiosk_url, os_image and secret keys kiosk_pin)`,
        `    device ${D}: joined the ring canary, image pi3-2026.10`,
        '#2 <time>  commit <head> by <author>  "canary: nothing changed"',
        '    no change on the fleet',
        '#3 <time>  commit <head> by <author>  "roll pi4-2026.11 to canary; new pin"',
        `    device ${A}: image pi4-2026.10 → pi4-2026.11`,
        `    device ${A}: configuration keys os_image and secret keys kiosk_pin changed`,
        '',
      ].join('\n');
      expect(normalised(onS3.stdout)).toBe(expected);
      expect(normalised(onFile.stdout)).toBe(normalised(onS3.stdout));
      expect(onS3.stdout).not.toMatch(/pin-1111|pin-2222/);
    });
    await step('leaves the tracked stack file as it was', () => {
      expect(fs.readFileSync(path.join(repoRoot, 'Pulumi.canary.yaml'), 'utf8')).toBe(stackFile);
    });
  }, 2_160_000);

  // Apart from the scenario: the bucket refuses the wrong key before it lists anything, whatever it holds.
  it('names the bucket, the server and what to do when the bucket refuses the audit, never the keys', async () => {
    const wrong = { ...s3.ws.env, AWS_SECRET_ACCESS_KEY: 'not-the-secret-key-of-this-bucket' };
    const refused = await s3HistoryFolder(minio.backendUrl, 'fleet', 'canary', wrong).then(
      () => new Error('the bucket answered'),
      (error: Error) => error,
    );
    expect(refused.message).toMatch(
      new RegExp(`^cannot read the Pulumi state in bucket ${minio.bucket} at http://${minio.address.replace(/\./g, '\\.')}: SignatureDoesNotMatch \\(HTTP 403\\): .*; check the credentials`),
    );
    expect(refused.message).not.toContain('not-the-secret-key-of-this-bucket');
    expect(refused.message).not.toContain(minio.env.AWS_SECRET_ACCESS_KEY);
    expect(refused.message).not.toContain(minio.env.AWS_ACCESS_KEY_ID);
  });
});
