// Reads a `.mender` file (Mender artifact format v3): an uncompressed tar holding `version`,
// `manifest`, `header.tar.gz` and `data/NNNN.tar.gz`, and checks it the way the deployments
// service does before accepting an upload.
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';
import { sha256Hex } from './ids';
import { ArtifactUpdate } from './types';

export class ArtifactFormatError extends Error {
  override name = 'ArtifactFormatError';
}

export interface ParsedArtifact {
  name: string;
  deviceTypes: string[];
  version: number;
  provides: Record<string, string>;
  depends: Record<string, string[]>;
  clearsProvides: string[];
  updates: ArtifactUpdate[];
  signed: boolean;
}

interface TarEntry {
  name: string;
  data: Buffer;
  mtime?: Date;
}

/** All regular files of a tar archive, in order; rejects truncated or corrupt archives. */
export async function readTar(buf: Buffer): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (header.type === 'file' || header.type === undefined) {
          entries.push({ name: header.name, data: Buffer.concat(chunks), mtime: header.mtime });
        }
        next();
      });
      stream.on('error', reject);
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  Readable.from([buf]).pipe(ex);
  try {
    await done;
  } catch (err) {
    throw new ArtifactFormatError(`readHeader: ${(err as Error).message}`);
  }
  return entries;
}

function gunzip(name: string, data: Buffer): Buffer {
  try {
    return gunzipSync(data);
  } catch (err) {
    throw new ArtifactFormatError(`${name}: ${(err as Error).message}`);
  }
}

function json<T>(name: string, data: Buffer): T {
  try {
    return JSON.parse(data.toString('utf8')) as T;
  } catch {
    throw new ArtifactFormatError(`${name}: invalid JSON`);
  }
}

interface HeaderInfo {
  payloads?: { type: string | null }[];
  artifact_provides?: { artifact_name?: string } & Record<string, string>;
  artifact_depends?: { device_type?: string[] } & Record<string, string[]>;
}

interface TypeInfo {
  type?: string | null;
  artifact_provides?: Record<string, string>;
  artifact_depends?: Record<string, string>;
  clears_artifact_provides?: string[];
}

function parseManifest(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const m = /^([0-9a-f]{64})\s+(\S+)$/.exec(line.trim());
    if (!m) throw new ArtifactFormatError(`manifest: invalid line: ${line}`);
    sums.set(m[2], m[1]);
  }
  return sums;
}

function checkSum(manifest: Map<string, string>, name: string, data: Buffer): void {
  const want = manifest.get(name);
  if (!want) throw new ArtifactFormatError(`${name}: missing from manifest`);
  const got = sha256Hex(data);
  if (got !== want) throw new ArtifactFormatError(`invalid checksum for ${name}: expected ${want}, got ${got}`);
}

export async function parseArtifact(buf: Buffer): Promise<ParsedArtifact> {
  if (buf.length === 0) throw new ArtifactFormatError('artifact file is empty');
  const outer = await readTar(buf);
  const byName = new Map(outer.map((e) => [e.name, e]));
  const versionEntry = outer[0];
  if (!versionEntry || versionEntry.name !== 'version') {
    throw new ArtifactFormatError('readHeader: first file of the artifact must be "version"');
  }
  const ver = json<{ format?: string; version?: number }>('version', versionEntry.data);
  if (ver.format !== 'mender') throw new ArtifactFormatError(`unsupported artifact format: ${String(ver.format)}`);
  if (ver.version !== 3) throw new ArtifactFormatError(`unsupported version: ${String(ver.version)}`);

  const manifestEntry = byName.get('manifest');
  if (!manifestEntry) throw new ArtifactFormatError('readHeader: missing manifest');
  const manifest = parseManifest(manifestEntry.data.toString('utf8'));
  checkSum(manifest, 'version', versionEntry.data);

  const headerEntry = byName.get('header.tar.gz');
  if (!headerEntry) throw new ArtifactFormatError('readHeader: missing header.tar.gz');
  checkSum(manifest, 'header.tar.gz', headerEntry.data);
  const header = new Map((await readTar(gunzip('header.tar.gz', headerEntry.data))).map((e) => [e.name, e.data]));
  const infoData = header.get('header-info');
  if (!infoData) throw new ArtifactFormatError('header.tar.gz: missing header-info');
  const info = json<HeaderInfo>('header-info', infoData);
  const name = info.artifact_provides?.artifact_name;
  if (!name) throw new ArtifactFormatError('header-info: artifact_provides.artifact_name is missing');
  const deviceTypes = info.artifact_depends?.device_type ?? [];
  if (!Array.isArray(deviceTypes) || deviceTypes.length === 0) {
    throw new ArtifactFormatError('header-info: artifact_depends.device_type is missing');
  }
  const payloads = info.payloads ?? [];

  const provides: Record<string, string> = { ...(info.artifact_provides as Record<string, string>) };
  const depends: Record<string, string[]> = { ...(info.artifact_depends as Record<string, string[]>) };
  const clearsProvides: string[] = [];
  const updates: ArtifactUpdate[] = [];
  for (let i = 0; i < payloads.length; i++) {
    const idx = String(i).padStart(4, '0');
    const typeInfoData = header.get(`headers/${idx}/type-info`);
    if (!typeInfoData) throw new ArtifactFormatError(`header.tar.gz: missing headers/${idx}/type-info`);
    const typeInfo = json<TypeInfo>(`headers/${idx}/type-info`, typeInfoData);
    Object.assign(provides, typeInfo.artifact_provides ?? {});
    for (const [k, v] of Object.entries(typeInfo.artifact_depends ?? {})) depends[k] = [v];
    clearsProvides.push(...(typeInfo.clears_artifact_provides ?? []));
    const metaData = header.get(`headers/${idx}/meta-data`);
    const metadata: Record<string, string> = {};
    if (metaData && metaData.length > 0) {
      for (const [k, v] of Object.entries(json<Record<string, unknown>>(`headers/${idx}/meta-data`, metaData))) {
        metadata[k] = typeof v === 'string' ? v : JSON.stringify(v);
      }
    }
    const dataEntry = byName.get(`data/${idx}.tar.gz`);
    const files: ArtifactUpdate['files'] = [];
    if (dataEntry) {
      for (const f of await readTar(gunzip(`data/${idx}.tar.gz`, dataEntry.data))) {
        checkSum(manifest, `data/${idx}/${f.name}`, f.data);
        files.push({
          name: f.name,
          checksum: sha256Hex(f.data),
          size: f.data.length,
          date: (f.mtime ?? new Date(0)).toISOString(),
        });
      }
    }
    // mender-artifact 3.9 leaves type-info's `type` empty for rootfs-image; the reader picks the
    // payload's handler by header-info's payload type, whose GetUpdateType deployments stores.
    updates.push({ type_info: { type: typeInfo.type || payloads[i].type || 'unknown' }, files, metadata });
  }
  return {
    name,
    deviceTypes,
    version: 3,
    provides,
    depends,
    clearsProvides,
    updates,
    signed: byName.has('manifest.sig'),
  };
}
