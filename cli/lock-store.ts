// Where a DIY backend keeps a stack's locks, and the two things `fleet recover` does with them:
// list them (with their content) and remove them. Pulumi v3.248.0 writes one object per running
// update, `.pulumi/locks/organization/<project>/<stack>/<uuid>.json` under the backend's root
// (pkg/backend/diy/lock.go, stackLockDir), `.pulumi/locks/<stack>/` in the legacy layout; seen
// for real on a file backend and in a MinIO bucket (test/engine/recover.test.ts, recover-s3.test.ts).
//
// - file://: the directory, read directly.
// - s3://: the bucket, through the AWS SDK with the settings Pulumi takes from the URL and the
//   AWS_* variables (cli/s3-backend.ts).
// - gs://, azblob:// (and s3:// with role= or anonymous=, which the SDK settings here do not
//   cover): through the Pulumi CLI itself, with its own storage drivers and credentials. No
//   command lists locks, but any that takes the stack's lock fails on the others, naming each
//   one's URL, user, host, pid and time (checkForLock); `pulumi stack rename <stack>` to its own
//   name takes the lock, then stops at once ("a stack named … already exists") and releases it,
//   changing nothing. `pulumi cancel` of a DIY backend deletes every lock of the stack
//   (diyBackend.CancelCurrentUpdate), the only removal the CLI offers.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { S3BackendError, s3StateLocation } from './s3-backend';
import { parseLock, StackLock } from './stale-update';
import { PulumiCli } from './workspace';

export interface LockStore {
  /** The backend, for messages (no secret: Pulumi's URLs hold none, credentials come from the environment). */
  readonly where: string;
  list(): Promise<StackLock[]>;
  remove(lock: StackLock): Promise<void>;
  close(): void;
}

/** The lock folders of a stack, relative to the backend's root: today's layout, then the legacy one. */
export function lockFolders(project: string, stack: string): string[] {
  return [`.pulumi/locks/organization/${project}/${stack}/`, `.pulumi/locks/${stack}/`];
}

export function fileLockStore(backendDir: string, project: string, stack: string): LockStore {
  return {
    where: `file://${backendDir}`,
    async list() {
      return lockFolders(project, stack).flatMap((folder) => {
        const dir = path.join(backendDir, folder);
        if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) return [];
        return fs
          .readdirSync(dir)
          .filter((name) => name.endsWith('.json'))
          .map((name) => {
            const file = path.join(dir, name);
            return parseLock(folder + name, fs.readFileSync(file, 'utf8'), file);
          });
      });
    },
    async remove(lock) {
      const file = path.join(backendDir, lock.key);
      fs.rmSync(file, { force: true });
      // gocloud's fileblob keeps the object's attributes next to it.
      fs.rmSync(`${file}.attrs`, { force: true });
    },
    close() {},
  };
}

function s3Failure(error: unknown, bucket: string, endpoint: string | undefined, doing: string): Error {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : '';
  return new Error(
    `recover: cannot ${doing} in bucket ${bucket}${endpoint ? ` at ${endpoint}` : ''}: ${e.name ?? 'Error'}${status}: ${e.message ?? String(error)}; check the credentials (AWS_* variables or profile) and the region and endpoint in the backend URL, as for the pulumi CLI`,
    { cause: error },
  );
}

/** Throws S3BackendError when the URL asks for settings only the CLI's own driver has (role=, anonymous=). */
export function s3LockStore(backendUrl: string, project: string, stack: string, env: NodeJS.ProcessEnv): LockStore {
  const where = s3StateLocation(backendUrl, env);
  if (!where.config.region) throw new Error(`recover: no AWS region for the state bucket ${where.bucket}: add region=<region> to the backend URL, or set AWS_REGION, as for the pulumi CLI`);
  // As in cli/s3-backend.ts: the SDK's notice about Node.js 22 is for whoever moves the pin.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new S3Client(where.config);
  const { bucket, prefix, endpoint } = where;
  return {
    where: `s3://${bucket}/${prefix}`,
    async list() {
      const locks: StackLock[] = [];
      for (const folder of lockFolders(project, stack)) {
        let token: string | undefined;
        do {
          const page = await client
            .send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix + folder, Delimiter: '/', ContinuationToken: token }))
            .catch((error: unknown) => Promise.reject(s3Failure(error, bucket, endpoint, `list the locks under ${prefix + folder}`)));
          for (const object of page.Contents ?? []) {
            if (!object.Key?.endsWith('.json')) continue;
            const got = await client
              .send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }))
              .catch((error: unknown) => Promise.reject(s3Failure(error, bucket, endpoint, `read the lock ${object.Key}`)));
            const text = await got.Body!.transformToString();
            locks.push(parseLock(object.Key.slice(prefix.length), text, `s3://${bucket}/${object.Key}`));
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
      }
      return locks;
    },
    async remove(lock) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: prefix + lock.key })).catch((error: unknown) => Promise.reject(s3Failure(error, bucket, endpoint, `remove the lock ${prefix + lock.key}`)));
    },
    close: () => client.destroy(),
  };
}

// `  <lock URL>: created by <user>@<host> (pid <pid>) at <RFC 3339 time>`, one line per lock
// (pkg/backend/diy/lock.go, checkForLock). A user name may hold '@'; a host name may not.
const LOCK_LINE = /^\s+(\S+): created by (.*)@([^@\s]*) \(pid (-?\d+)\) at (\S+)\s*$/;

/** The locks named in the CLI's "the stack is currently locked" error. */
export function locksInCliError(stderr: string): StackLock[] {
  return stderr.split('\n').flatMap((line) => {
    const m = LOCK_LINE.exec(line);
    if (!m) return [];
    const [, url, username, hostname, pid, time] = m;
    const at = decodeURIComponent(url.split('?')[0]).indexOf('.pulumi/locks/');
    const key = at >= 0 ? decodeURIComponent(url.split('?')[0]).slice(at) : url;
    return [parseLock(key, JSON.stringify({ pid: Number(pid), username, hostname, timestamp: time }), url)];
  });
}

export function cliLockStore(backendUrl: string, stack: string, pulumi: PulumiCli): LockStore {
  const scheme = backendUrl.split('://')[0];
  let cancelled = false;
  return {
    where: backendUrl.split('?')[0],
    async list() {
      const probe = await pulumi(['stack', 'rename', stack, '--stack', stack]);
      const text = `${probe.stderr}\n${probe.stdout}`;
      if (/currently locked by \d+ lock/.test(text)) {
        const locks = locksInCliError(text);
        if (locks.length === 0) throw new Error(`recover: ${stack}: the stack is locked on ${scheme}://, but the locks could not be read from pulumi's message:\n${text.trim()}`);
        return locks;
      }
      if (/a stack named \S+ already exists/.test(text) || /no stack named/i.test(text)) return [];
      throw new Error(`recover: ${stack}: cannot read the stack's locks through \`pulumi stack rename\` (exit ${probe.code}):\n${text.trim()}`);
    },
    async remove() {
      // One `pulumi cancel` deletes them all; recover removes locks only when every one is stale.
      if (cancelled) return;
      const result = await pulumi(['cancel', '--yes', '--stack', stack]);
      if (result.code !== 0) throw new Error(`recover: ${stack}: pulumi cancel failed (exit ${result.code}):\n${(result.stderr + result.stdout).trim()}`);
      cancelled = true;
    },
    close() {},
  };
}

/** The store for a DIY backend URL. */
export function lockStoreFor(backendUrl: string, project: string, stack: string, env: NodeJS.ProcessEnv, pulumi: PulumiCli, backendDir: (url: string) => string): LockStore {
  if (backendUrl.startsWith('file://')) return fileLockStore(backendDir(backendUrl), project, stack);
  if (backendUrl.startsWith('s3://')) {
    try {
      return s3LockStore(backendUrl, project, stack, env);
    } catch (error) {
      if (!(error instanceof S3BackendError) || !/role|anonymous/.test(error.message)) throw error;
      return cliLockStore(backendUrl, stack, pulumi);
    }
  }
  return cliLockStore(backendUrl, stack, pulumi);
}
