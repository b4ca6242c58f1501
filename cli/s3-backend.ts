// A stack's history folder in an S3-compatible state bucket (`s3://bucket[/prefix]?…`), read the
// way Pulumi v3.248.0 reaches it, so `fleet audit` opens the same bucket the CLI writes to:
// - the URL's query parameters as Pulumi's DIY backend passes them to gocloud.dev v0.46.0
//   (pkg/backend/diy/backend.go translateLegacyS3Params, blob/s3blob and aws.V2ConfigFromURLParams);
// - credentials, region and profile from the AWS_* variables, as the AWS SDK does in the CLI.
// The layout in the bucket is the file backend's: `<prefix>.pulumi/history/<project>/<stack>/`.
import { GetObjectCommand, ListObjectsV2Command, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';

/** Where the state lives and how to reach it (no secret in it except inside `config.credentials`). */
export interface S3StateLocation {
  bucket: string;
  /** Key prefix of the state inside the bucket ('' or ending in '/'), from the URL's path. */
  prefix: string;
  /** The endpoint as Pulumi uses it (scheme added), for messages; undefined: AWS's own. */
  endpoint?: string;
  config: S3ClientConfig;
}

export class S3BackendError extends Error {}

// Parameters that change how objects are written or how fast requests go, not where they are.
const IRRELEVANT_TO_READING = new Set(['ssetype', 'kmskeyid', 'rate_limiter_capacity', 'request_checksum_calculation', 'response_checksum_validation', 'awssdk', 'hostname_immutable']);

function flag(query: URLSearchParams, key: string): boolean | undefined {
  const value = query.get(key);
  if (value === null || value === '') return undefined;
  // Go's strconv.ParseBool, which gocloud uses.
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new S3BackendError(`the state backend URL has an invalid value for ${key}: ${JSON.stringify(value)} (true or false)`);
}

/** The bucket, prefix and S3 client settings of a Pulumi `s3://` backend URL. */
export function s3StateLocation(backendUrl: string, env: NodeJS.ProcessEnv): S3StateLocation {
  let url: URL;
  try {
    url = new URL(backendUrl);
  } catch {
    throw new S3BackendError(`the state backend URL is not a URL: ${backendUrl}`);
  }
  if (url.protocol !== 's3:' || !url.hostname) throw new S3BackendError(`not an s3:// state backend URL with a bucket: ${backendUrl}`);
  const query = url.searchParams;

  // Pulumi's translation of the AWS SDK v1 parameters: disableSSL becomes disable_https, and an
  // endpoint without a scheme gets https://, or http:// only when disableSSL=true.
  const legacyDisableSsl = flag(query, 'disableSSL');
  let endpoint = query.get('endpoint') || undefined;
  if (endpoint && !endpoint.includes('://')) endpoint = `${legacyDisableSsl ? 'http' : 'https'}://${endpoint}`;

  for (const key of new Set(query.keys())) {
    if (['disableSSL', 'disable_https', 'endpoint', 'region', 'profile', 'use_path_style', 's3ForcePathStyle', 'dualstack', 'fips', 'accelerate'].includes(key)) continue;
    if (IRRELEVANT_TO_READING.has(key)) continue;
    if (key === 'role' || key === 'anonymous') {
      throw new S3BackendError(
        `fleet audit cannot read the state bucket with the backend URL parameter ${key}=: use a profile (AWS_PROFILE or profile=) that assumes the role, or AWS_* credentials`,
      );
    }
    throw new S3BackendError(`the state backend URL has the parameter ${key}, which Pulumi's S3 backend does not know`);
  }

  const pathStyle = flag(query, 'use_path_style') ?? flag(query, 's3ForcePathStyle');
  const accessKeyId = env.AWS_ACCESS_KEY_ID || env.AWS_ACCESS_KEY;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY || env.AWS_SECRET_KEY;
  const config: S3ClientConfig = {
    region: query.get('region') || env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
    endpoint: endpoint ?? (env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined),
    forcePathStyle: pathStyle,
    useDualstackEndpoint: flag(query, 'dualstack'),
    useFipsEndpoint: flag(query, 'fips'),
    useAccelerateEndpoint: flag(query, 'accelerate'),
    // Static keys from the environment first, as the SDK's chain does; else the SDK's own chain
    // (shared profiles, SSO, web identity, container and instance credentials).
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN || undefined } : undefined,
    profile: query.get('profile') || env.AWS_PROFILE || env.AWS_DEFAULT_PROFILE || undefined,
  };
  for (const key of Object.keys(config) as (keyof S3ClientConfig)[]) if (config[key] === undefined) delete config[key];
  const sub = decodeURIComponent(url.pathname).replace(/^\/+/, '');
  return { bucket: url.hostname, prefix: sub && !sub.endsWith('/') ? `${sub}/` : sub, endpoint, config };
}

/** A folder of the bucket: the names of its objects (one level) and their contents. */
export interface BucketFolder {
  names: string[];
  read(name: string): Promise<Buffer>;
  /** Ends the client's kept-alive connections. */
  close(): void;
}

function describeFailure(error: unknown, where: S3StateLocation): S3BackendError {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : '';
  const server = where.endpoint ? ` at ${where.endpoint}` : '';
  const hint =
    e.name === 'CredentialsProviderError'
      ? 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, as for the pulumi CLI'
      : 'check the credentials (AWS_* variables or profile) and the region and endpoint in the backend URL';
  return new S3BackendError(`cannot read the Pulumi state in bucket ${where.bucket}${server}: ${e.name ?? 'Error'}${status}: ${e.message ?? String(error)}; ${hint}`);
}

/**
 * The history folder of a stack in the state bucket: the project layout Pulumi uses today
 * (`.pulumi/history/<project>/<stack>/`), else the legacy one (`.pulumi/history/<stack>/`).
 * Undefined when the stack has no history there.
 */
export async function s3HistoryFolder(backendUrl: string, project: string, stack: string, env: NodeJS.ProcessEnv): Promise<BucketFolder | undefined> {
  const where = s3StateLocation(backendUrl, env);
  if (!where.config.region) {
    throw new S3BackendError(`no AWS region for the state bucket ${where.bucket}: add region=<region> to the backend URL, or set AWS_REGION, as for the pulumi CLI`);
  }
  // The SDK warns on every run under Node.js 20 that its releases from 2027 on need Node.js 22.
  // The project supports Node.js 20 and pins the SDK exactly, so that is decided when the pin
  // moves, not by whoever runs the audit.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const client = new S3Client(where.config);
  const name = stack.split('/').pop()!;
  try {
    for (const folder of [`${where.prefix}.pulumi/history/${project}/${name}/`, `${where.prefix}.pulumi/history/${name}/`]) {
      const names: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: where.bucket, Prefix: folder, Delimiter: '/', ContinuationToken: token }));
        for (const object of page.Contents ?? []) if (object.Key) names.push(object.Key.slice(folder.length));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      if (names.length === 0) continue;
      return {
        names,
        async read(file: string): Promise<Buffer> {
          try {
            const object = await client.send(new GetObjectCommand({ Bucket: where.bucket, Key: folder + file }));
            return Buffer.from(await object.Body!.transformToByteArray());
          } catch (error) {
            throw describeFailure(error, where);
          }
        },
        close: () => client.destroy(),
      };
    }
    client.destroy();
    return undefined;
  } catch (error) {
    client.destroy();
    throw error instanceof S3BackendError ? error : describeFailure(error, where);
  }
}
