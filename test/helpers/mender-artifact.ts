// Writes Mender artifacts (format v3) byte by byte, for the files Mender's own `mender-artifact`
// will not write: truncated, with a bad checksum, or otherwise unusual (every other test's
// artifacts come from the real tool, test/helpers/mender-artifact-tool.ts). The layout follows Mender's
// format documentation: an uncompressed tar of `version`, `manifest`, `header.tar.gz` and
// `data/0000.tar.gz`, with sha256 sums of version, header and every payload file in `manifest`.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';

export interface ArtifactFile {
  name: string;
  content: Buffer | string;
}

export interface ArtifactSpec {
  name: string;
  deviceTypes: string[];
  files: ArtifactFile[];
  /** Payload type; default rootfs-image. */
  type?: string;
  metadata?: Record<string, string>;
  mtime?: Date;
}

/** What `mender-artifact read` prints about an artifact, computed from the spec alone. */
export interface ArtifactReadout {
  name: string;
  format: 'mender';
  version: 3;
  deviceTypes: string[];
  type: string;
  files: { name: string; size: number; checksum: string }[];
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

async function tar(entries: { name: string; data: Buffer; mtime: Date }[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    p.on('data', (c: unknown) => chunks.push(c as Buffer));
    p.on('end', () => resolve(Buffer.concat(chunks)));
    p.on('error', reject);
  });
  for (const e of entries) {
    await new Promise<void>((resolve, reject) =>
      p.entry({ name: e.name, size: e.data.length, mtime: e.mtime, mode: 0o644 }, e.data, (err) => (err ? reject(err) : resolve())),
    );
  }
  p.finalize();
  return done;
}

export async function writeMenderArtifact(spec: ArtifactSpec): Promise<Buffer> {
  const mtime = spec.mtime ?? new Date('2026-01-01T00:00:00Z');
  const type = spec.type ?? 'rootfs-image';
  const files = spec.files.map((f) => ({ name: f.name, data: Buffer.isBuffer(f.content) ? f.content : Buffer.from(f.content) }));
  const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

  const version = json({ format: 'mender', version: 3 });
  const typeInfo: Record<string, unknown> = { type };
  if (type === 'rootfs-image' && files.length > 0) {
    typeInfo.artifact_provides = { 'rootfs-image.checksum': sha256(files[0].data), 'rootfs-image.version': spec.name };
    typeInfo.clears_artifact_provides = ['artifact_group', 'rootfs_image_checksum', 'rootfs-image.*'];
  }
  const headerEntries = [
    {
      name: 'header-info',
      data: json({
        payloads: [{ type }],
        artifact_provides: { artifact_name: spec.name },
        artifact_depends: { device_type: spec.deviceTypes },
      }),
      mtime,
    },
    { name: 'headers/0000/type-info', data: json(typeInfo), mtime },
  ];
  if (spec.metadata) headerEntries.push({ name: 'headers/0000/meta-data', data: json(spec.metadata), mtime });
  const header = gzipSync(await tar(headerEntries));
  const data = gzipSync(await tar(files.map((f) => ({ ...f, mtime }))));

  const sums = [
    ...files.map((f) => `${sha256(f.data)}  data/0000/${f.name}`),
    `${sha256(header)}  header.tar.gz`,
    `${sha256(version)}  version`,
  ].sort((a, b) => a.slice(66).localeCompare(b.slice(66)));
  const manifest = Buffer.from(sums.join('\n') + '\n');

  return tar([
    { name: 'version', data: version, mtime },
    { name: 'manifest', data: manifest, mtime },
    { name: 'header.tar.gz', data: header, mtime },
    { name: 'data/0000.tar.gz', data, mtime },
  ]);
}

export function expectedReadout(spec: ArtifactSpec): ArtifactReadout {
  return {
    name: spec.name,
    format: 'mender',
    version: 3,
    deviceTypes: spec.deviceTypes,
    type: spec.type ?? 'rootfs-image',
    files: spec.files.map((f) => {
      const data = Buffer.isBuffer(f.content) ? f.content : Buffer.from(f.content);
      return { name: f.name, size: data.length, checksum: sha256(data) };
    }),
  };
}
