// The artifact a configuration deployment serves, made as the deployments service makes it
// (app/app.go GenerateConfigurationImage): Mender artifact v3, no compression, one
// `mender-configure` module payload without files, the configuration as its meta-data, named
// after the deployment, providing data-partition.mender-configure.version and clearing
// data-partition.mender-configure.*. A real client installs it with the mender-configure module.
import { pack } from 'tar-stream';
import { sha256Hex } from './ids';

export const CONFIGURE_TYPE = 'mender-configure';
export const CONFIGURE_PROVIDES = 'data-partition.mender-configure.version';
export const CONFIGURE_PROVIDES_CLEARED = 'data-partition.mender-configure.*';
/** app.ArtifactContentType, with which DownloadConfiguration serves it. */
export const ARTIFACT_CONTENT_TYPE = 'application/vnd.mender-artifact';

async function tar(entries: { name: string; data: Buffer }[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    p.on('data', (c: unknown) => chunks.push(c as Buffer));
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
  });
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => p.entry({ name: e.name, size: e.data.length, mode: 0o600, mtime: new Date(0) }, e.data, (err) => (err ? reject(err) : resolve())));
  }
  p.finalize();
  return done;
}

export async function configurationArtifact(artifactName: string, deviceType: string, configuration: Record<string, unknown>): Promise<Buffer> {
  const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
  const version = json({ format: 'mender', version: 3 });
  const header = await tar([
    {
      name: 'header-info',
      data: json({ payloads: [{ type: CONFIGURE_TYPE }], artifact_provides: { artifact_name: artifactName }, artifact_depends: { device_type: [deviceType] } }),
    },
    {
      name: 'headers/0000/type-info',
      data: json({ type: CONFIGURE_TYPE, artifact_provides: { [CONFIGURE_PROVIDES]: artifactName }, artifact_depends: {}, clears_artifact_provides: [CONFIGURE_PROVIDES_CLEARED] }),
    },
    { name: 'headers/0000/meta-data', data: json(configuration) },
  ]);
  // The payload has no files: its data tar is an empty archive.
  const data = await tar([]);
  // The manifest lists the checksums of every file but itself, the payload's by their path
  // (none here), sorted by name.
  const manifest = Buffer.from(
    [`${sha256Hex(header)}  header.tar`, `${sha256Hex(version)}  version`].join('\n') + '\n',
  );
  return tar([
    { name: 'version', data: version },
    { name: 'manifest', data: manifest },
    { name: 'header.tar', data: header },
    { name: 'data/0000.tar', data },
  ]);
}
