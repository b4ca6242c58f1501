// Artifacts written by Mender's own `mender-artifact` (Debian's 3.9.0, installed by
// scripts/mender-tools): what the suite's artifacts are made with, so the emulator reads what a
// user uploads. test/helpers/mender-artifact.ts stays for broken or unusual files only.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const MENDER_ARTIFACT = process.env.MENDER_ARTIFACT_BIN ?? 'mender-artifact';

export interface ToolArtifactSpec {
  name: string;
  deviceTypes: string[];
  /** rootfs-image: the image file's content; module-image: its payload files. */
  kind: { type: 'rootfs-image'; content: Buffer } | { type: 'module-image'; module: string; files: { name: string; content: Buffer | string }[]; metaData?: Readonly<Record<string, string | undefined>> };
  /** --software-version, when not the artifact's name (the tool's default). */
  softwareVersion?: string;
}

/** Writes the artifact with mender-artifact into `dir` (a fresh temporary one by default) and returns its path. */
export function writeWithMenderArtifact(spec: ToolArtifactSpec, dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mender-artifact-'))): string {
  const out = path.join(dir, `${spec.name}.mender`);
  const args = ['write', spec.kind.type, '-n', spec.name, ...spec.deviceTypes.flatMap((t) => ['-t', t]), '-o', out];
  if (spec.softwareVersion) args.push('--software-version', spec.softwareVersion);
  if (spec.kind.type === 'rootfs-image') {
    const image = path.join(dir, `${spec.name}.ext4`);
    fs.writeFileSync(image, spec.kind.content);
    args.push('-f', image);
  } else {
    args.push('-T', spec.kind.module);
    if (spec.kind.metaData) {
      const metaData = path.join(dir, `${spec.name}.meta-data.json`);
      fs.writeFileSync(metaData, JSON.stringify(spec.kind.metaData));
      args.push('-m', metaData);
    }
    for (const file of spec.kind.files) {
      const at = path.join(dir, file.name);
      fs.writeFileSync(at, file.content);
      args.push('-f', at);
    }
  }
  execFileSync(MENDER_ARTIFACT, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

/** `mender-artifact read`'s "Type:" of each payload, as the tool itself reports it. */
export function typesAsRead(file: string): string[] {
  const text = execFileSync(MENDER_ARTIFACT, ['read', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return [...text.matchAll(/^\s+Type:\s+(\S+)/gm)].map((m) => m[1]);
}
