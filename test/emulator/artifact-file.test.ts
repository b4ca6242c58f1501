import { ArtifactFormatError, parseArtifact } from '../../emulator/artifact-file';
import { expectedReadout, writeMenderArtifact } from '../helpers/mender-artifact';

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
});
