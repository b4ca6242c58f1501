// The S3 state backend URL read as Pulumi v3.248.0 reads it (its legacy-parameter translation,
// then gocloud's parameters), and the AWS_* variables as the AWS SDK takes them. The bucket
// itself is read in test/engine/s3-backend.test.ts, against MinIO.
import { S3BackendError, s3StateLocation } from '../../cli/s3-backend';

const keys = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG' };

describe('s3StateLocation', () => {
  it('takes the bucket, the endpoint with the scheme Pulumi gives it, path style and region from the URL', () => {
    const where = s3StateLocation('s3://fleet-state?endpoint=127.0.0.1:9000&disableSSL=true&s3ForcePathStyle=true&region=eu-central-1', keys);
    expect(where).toEqual({
      bucket: 'fleet-state',
      prefix: '',
      endpoint: 'http://127.0.0.1:9000',
      config: {
        endpoint: 'http://127.0.0.1:9000',
        forcePathStyle: true,
        region: 'eu-central-1',
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG' },
      },
    });
  });

  it('gives a bare endpoint https, as Pulumi does, unless disableSSL=true; a scheme is kept', () => {
    expect(s3StateLocation('s3://b?endpoint=minio.internal:9000&region=r', {}).endpoint).toBe('https://minio.internal:9000');
    expect(s3StateLocation('s3://b?endpoint=minio.internal:9000&disableSSL=false&region=r', {}).endpoint).toBe('https://minio.internal:9000');
    // disable_https alone does not change the scheme Pulumi adds to a bare endpoint.
    expect(s3StateLocation('s3://b?endpoint=minio.internal:9000&disable_https=true&region=r', {}).endpoint).toBe('https://minio.internal:9000');
    expect(s3StateLocation('s3://b?endpoint=http://minio.internal:9000&use_path_style=true&region=r', {}).config).toMatchObject({
      endpoint: 'http://minio.internal:9000',
      forcePathStyle: true,
    });
  });

  it('keeps a path of the URL as the key prefix of the state', () => {
    expect(s3StateLocation('s3://b/teams/fleet?region=r', {}).prefix).toBe('teams/fleet/');
    expect(s3StateLocation('s3://b/teams/fleet/?region=r', {}).prefix).toBe('teams/fleet/');
  });

  it('falls back to the AWS_* variables for the region, the endpoint, the profile and a session token', () => {
    const where = s3StateLocation('s3://b', { ...keys, AWS_SESSION_TOKEN: 'token', AWS_DEFAULT_REGION: 'us-west-2', AWS_ENDPOINT_URL: 'http://127.0.0.1:9999', AWS_PROFILE: 'ops' });
    expect(where.config).toEqual({
      region: 'us-west-2',
      endpoint: 'http://127.0.0.1:9999',
      profile: 'ops',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG', sessionToken: 'token' },
    });
    // The URL wins over the variables; AWS_REGION over AWS_DEFAULT_REGION.
    expect(s3StateLocation('s3://b?region=eu-west-1&profile=audit', { AWS_REGION: 'us-east-2', AWS_PROFILE: 'ops' }).config).toEqual({ region: 'eu-west-1', profile: 'audit' });
    expect(s3StateLocation('s3://b', { AWS_REGION: 'us-east-2', AWS_DEFAULT_REGION: 'us-west-2' }).config.region).toBe('us-east-2');
  });

  it('leaves credentials to the SDK chain when no keys are in the environment', () => {
    expect(s3StateLocation('s3://b?region=r', { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE' }).config.credentials).toBeUndefined();
  });

  it('takes the other endpoint switches gocloud knows, and ignores the write-only ones', () => {
    const where = s3StateLocation('s3://b?region=r&dualstack=true&fips=1&accelerate=false&ssetype=AES256&kmskeyid=k&awssdk=v2', {});
    expect(where.config).toEqual({ region: 'r', useDualstackEndpoint: true, useFipsEndpoint: true, useAccelerateEndpoint: false });
  });

  it('refuses what Pulumi refuses, and what the audit cannot do, saying what to do instead', () => {
    expect(() => s3StateLocation('s3://b?regoin=r', {})).toThrow(new S3BackendError("the state backend URL has the parameter regoin, which Pulumi's S3 backend does not know"));
    expect(() => s3StateLocation('s3://b?s3ForcePathStyle=yes', {})).toThrow('the state backend URL has an invalid value for s3ForcePathStyle: "yes" (true or false)');
    expect(() => s3StateLocation('s3://b?role=arn:aws:iam::1:role/state', {})).toThrow(
      'fleet audit cannot read the state bucket with the backend URL parameter role=: use a profile (AWS_PROFILE or profile=) that assumes the role, or AWS_* credentials',
    );
    expect(() => s3StateLocation('gs://b', {})).toThrow('not an s3:// state backend URL with a bucket: gs://b');
  });
});
