import { ArtifactFormatError, parseArtifact } from '../../emulator/artifact-file';
import * as fs from 'node:fs';
import { expectedReadout, writeMenderArtifact } from '../helpers/mender-artifact';
import { typesAsRead, writeWithMenderArtifact } from '../helpers/mender-artifact-tool';

describe('.mender artifact files', () => {
  const spec = {
    name: 'pi4-2026.12',
    deviceTypes: ['pi4-v3-arm64', 'pi4-v2-armhf'],
    files: [{ name: 'rootfs.ext4', content: Buffer.alloc(70000, 7) }],
    metadata: { channel: 'canary' },
  };

  it('reads name, device types, payload checksums and provides', async () => {
    const parsed = await parseArtifact(await writeMenderArtifact(spec));
    const want = expectedReadout(spec);
    expect(parsed.name).toBe(want.name);
    expect(parsed.deviceTypes).toEqual(want.deviceTypes);
    expect(parsed.version).toBe(3);
    expect(parsed.updates).toHaveLength(1);
    expect(parsed.updates[0].type_info.type).toBe('rootfs-image');
    expect(parsed.updates[0].files.map(({ name, size, checksum }) => ({ name, size, checksum }))).toEqual(want.files);
    expect(parsed.updates[0].metadata).toEqual({ channel: 'canary' });
    expect(parsed.provides).toMatchObject({
      artifact_name: 'pi4-2026.12',
      'rootfs-image.version': 'pi4-2026.12',
      'rootfs-image.checksum': want.files[0].checksum,
    });
  });

  it('rejects truncated, corrupted and foreign files', async () => {
    const good = await writeMenderArtifact(spec);
    await expect(parseArtifact(good.subarray(0, Math.floor(good.length / 2)))).rejects.toThrow(ArtifactFormatError);
    await expect(parseArtifact(Buffer.alloc(0))).rejects.toThrow(/empty/);
    await expect(parseArtifact(Buffer.from('not a tar file at all'.repeat(40)))).rejects.toThrow(ArtifactFormatError);
    // Flip one payload byte: the manifest's checksum no longer matches.
    const corrupted = Buffer.from(good);
    const dataAt = corrupted.indexOf(Buffer.from('data/0000.tar.gz')) + 512;
    corrupted[dataAt + 100] ^= 0xff;
    await expect(parseArtifact(corrupted)).rejects.toThrow(ArtifactFormatError);
  });

  // mender-artifact 3.9's `write rootfs-image` writes `"type": ""` in headers/0000/type-info and
  // the type only in header-info's payloads. The reader picks the payload's handler by
  // header-info (mender-artifact areader), and deployments stores the handler's GetUpdateType
  // (mender-server deployments app/app.go, getMetaFromArchive): `rootfs-image`.
  it('reads the type of a rootfs-image written by mender-artifact as mender-artifact read does', async () => {
    const file = writeWithMenderArtifact({ name: 'pi4-2026.12', deviceTypes: ['pi4-v3-arm64'], kind: { type: 'rootfs-image', content: Buffer.alloc(4096, 3) } });
    expect(typesAsRead(file)).toEqual(['rootfs-image']);
    const parsed = await parseArtifact(fs.readFileSync(file));
    expect(parsed.updates.map((u) => u.type_info.type)).toEqual(['rootfs-image']);
    expect(parsed.provides).toMatchObject({ artifact_name: 'pi4-2026.12', 'rootfs-image.version': 'pi4-2026.12' });
  });

  it('reads the type of a module-image written by mender-artifact', async () => {
    const file = writeWithMenderArtifact({ name: 'app-1', deviceTypes: ['pi4-v3-arm64'], kind: { type: 'module-image', module: 'fleet-test-module', files: [{ name: 'payload.txt', content: 'hello' }] } });
    expect(typesAsRead(file)).toEqual(['fleet-test-module']);
    expect((await parseArtifact(fs.readFileSync(file))).updates.map((u) => u.type_info.type)).toEqual(['fleet-test-module']);
  });
});
