// A real S3-compatible server for the engine tests: MinIO (built once by scripts/minio into the
// cache outside the repository), on 127.0.0.1 only, with a throw-away data folder, credentials
// and bucket. Started by a test's beforeAll, stopped by its afterAll.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { repoRoot } from './pulumi';

export interface RunningMinio {
  /** `127.0.0.1:<port>`, as the backend URL's endpoint parameter takes it. */
  address: string;
  bucket: string;
  region: string;
  /** The Pulumi state backend in the bucket. */
  backendUrl: string;
  /** What Pulumi (and `fleet audit`) need to reach it: the bucket's credentials. */
  env: Record<string, string>;
  /** Keys of the bucket under a prefix. */
  keys(prefix: string): Promise<string[]>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function minioBinary(): string {
  try {
    const out = execFileSync('bash', [path.join(repoRoot, 'scripts', 'minio')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.trim().split('\n').pop()!;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`MinIO is not available for the S3 backend tests: scripts/minio failed:\n${stderr.trim()}`, { cause: error });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startMinio(): Promise<RunningMinio> {
  const binary = minioBinary();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-minio-'));
  const [port, consolePort] = [await freePort(), await freePort()];
  const address = `127.0.0.1:${port}`;
  const accessKeyId = `fleet-${randomBytes(4).toString('hex')}`;
  const secretAccessKey = randomBytes(18).toString('base64url');
  const region = 'us-east-1';
  const bucket = `fleet-state-${randomBytes(4).toString('hex')}`;
  const log = path.join(dir, 'minio.log');
  const logFd = fs.openSync(log, 'a');
  // Only what MinIO needs: no inherited MINIO_* settings, HOME in the throw-away folder. The
  // update check (dl.min.io) is off, as is the web console; call-home is off by default and
  // kept so. --quiet: the start-up banner would print the credentials.
  const child: ChildProcess = spawn(
    binary,
    ['--quiet', '--certs-dir', path.join(dir, 'certs'), 'server', '--address', address, '--console-address', `127.0.0.1:${consolePort}`, path.join(dir, 'data')],
    {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        MINIO_ROOT_USER: accessKeyId,
        MINIO_ROOT_PASSWORD: secretAccessKey,
        MINIO_REGION: region,
        MINIO_UPDATE: 'off',
        MINIO_BROWSER: 'off',
        MINIO_CALLHOME_ENABLE: 'off',
      },
      stdio: ['ignore', logFd, logFd],
    },
  );
  fs.closeSync(logFd);
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = code ?? (signal ? -1 : null);
      resolve();
    }),
  );
  const logText = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split(secretAccessKey).join('<secret>').trim() : '');

  const stop = async () => {
    if (exited === undefined) {
      child.kill('SIGTERM');
      const hard = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(hard);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  // As in cli/s3-backend.ts: the SDK's Node.js 22 notice is no news to a suite pinned to Node.js 20.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new S3Client({ endpoint: `http://${address}`, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  try {
    const started = Date.now();
    for (;;) {
      if (exited !== undefined) throw new Error(`MinIO exited (${exited}) while starting on ${address}:\n${logText()}`);
      const ready = await fetch(`http://${address}/minio/health/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      if (Date.now() - started > 60_000) throw new Error(`MinIO did not become ready on ${address} within 60 s:\n${logText()}`);
      await sleep(200);
    }
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    client.destroy();
    await stop();
    throw error;
  }

  return {
    address,
    bucket,
    region,
    backendUrl: `s3://${bucket}?endpoint=${address}&disableSSL=true&s3ForcePathStyle=true&region=${region}`,
    env: { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey },
    async keys(prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys;
    },
    async stop() {
      client.destroy();
      await stop();
    },
  };
}
