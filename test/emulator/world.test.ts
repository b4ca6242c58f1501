import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseWorld, startEmulator, WorldError } from '../../emulator';
import { loadWorldFile } from '../../emulator/world';
import { writeWithMenderArtifact } from '../helpers/mender-artifact-tool';

describe('world file', () => {
  it('parses the documented shape and applies defaults', () => {
    const world = parseWorld(
      [
        'artifacts:',
        '  - {name: pi4-2026.11, device_types: [pi4-v3-arm64]}',
        'devices:',
        '  - id: 9f1c2b3a-4d5e-4f60-a172-8394a5b6c7d8',
        '    device_type: pi4-v3-arm64',
        '    artifact_name: pi4-2026.10',
        '    attributes: {subscribed_branch: canary}',
        '    behavior: {fail_install: [pi4-2026.11]}',
        'tokens: [a-personal-access-token]',
        'users: [{email: ops@example.org, password: secret}]',
      ].join('\n'),
    );
    expect(world.artifacts).toEqual([{ name: 'pi4-2026.11', device_types: ['pi4-v3-arm64'] }]);
    expect(world.devices[0].behavior).toEqual({ fail_install: ['pi4-2026.11'] });
    expect(world.tokens).toEqual(['a-personal-access-token']);
    expect(world.users).toEqual([{ email: 'ops@example.org', password: 'secret' }]);
    expect(parseWorld('')).toEqual({ artifacts: [], devices: [], tokens: [], users: [] });
  });

  it('reports schema errors with file and line', () => {
    const text = ['devices:', '  - id: a', '    device_type: pi4', '    artifact_name: 7', '    behaviour: {}'].join('\n');
    expect(() => parseWorld(text, 'fleet.yaml')).toThrow(WorldError);
    try {
      parseWorld(text, 'fleet.yaml');
    } catch (err) {
      const message = (err as Error).message;
      expect(message).toMatch(/^fleet\.yaml:4:\d+: .*devices\.0\.artifact_name/m);
      expect(message).toMatch(/fleet\.yaml:2:\d+: .*behaviour/m);
    }
  });

  it('parses the per-device behaviours, and refuses a poll interval that is not positive', () => {
    const device = (behavior: string) =>
      ['devices:', '  - id: a', '    device_type: pi4', '    artifact_name: pi4-2026.10', `    behavior: ${behavior}`].join('\n');
    const world = parseWorld(device('{rollback_after_reboot: [pi4-2026.11], poll_interval_ms: 3600000, offline: true}'));
    expect(world.devices[0].behavior).toEqual({ rollback_after_reboot: ['pi4-2026.11'], poll_interval_ms: 3600000, offline: true });
    expect(() => parseWorld(device('{poll_interval_ms: 0}'), 'w.yaml')).toThrow(/^w\.yaml:5:\d+: .*poll_interval_ms/);
    expect(() => parseWorld(device('{poll_interval_ms: 1.5}'), 'w.yaml')).toThrow(/poll_interval_ms/);
  });

  it('reports YAML syntax errors and duplicate ids with their line', () => {
    expect(() => parseWorld('devices: [\n  {id: a', 'w.yaml')).toThrow(/^w\.yaml:\d+:\d+: invalid YAML/);
    const dup = ['devices:', '  - {id: a, device_type: t, artifact_name: x}', '  - {id: a, device_type: t, artifact_name: x}'].join('\n');
    expect(() => parseWorld(dup, 'w.yaml')).toThrow(/^w\.yaml:3:\d+: duplicate device id a$/);
  });

  // A world artifact with a file behind it, written by the real mender-artifact: a relative
  // path is from the world file's directory, and the file must be the artifact the world names.
  it('puts a .mender file behind a world artifact, and refuses one that is another artifact', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'world-file-'));
    try {
      writeWithMenderArtifact({ name: 'app-1.0', deviceTypes: ['pi4'], kind: { type: 'module-image', module: 'single-file', files: [{ name: 'a.txt', content: 'a' }] } }, dir);
      const worldFile = path.join(dir, 'world.yaml');
      fs.writeFileSync(worldFile, 'artifacts:\n  - {name: app-1.0, device_types: [pi4], file: app-1.0.mender}\ntokens: [t]\n');
      const world = loadWorldFile(worldFile);
      expect(world.artifacts[0].file).toBe(path.join(dir, 'app-1.0.mender'));
      const emu = await startEmulator({ world });
      try {
        const list = await fetch(`${emu.url}/api/management/v1/deployments/artifacts`, { headers: { authorization: 'Bearer t' } });
        const [artifact] = (await list.json()) as { id: string; updates: { type_info: { type: string }; files: { name: string }[] }[] }[];
        expect(artifact.updates).toEqual([expect.objectContaining({ type_info: { type: 'single-file' }, files: [expect.objectContaining({ name: 'a.txt' })] })]);
        const file = await fetch(`${emu.url}/__emulator/artifacts/${artifact.id}/download`);
        expect(Buffer.from(await file.arrayBuffer())).toEqual(fs.readFileSync(path.join(dir, 'app-1.0.mender')));
      } finally {
        await emu.close();
      }
      const wrong = { ...world, artifacts: [{ ...world.artifacts[0], name: 'app-2.0' }] };
      await expect(startEmulator({ world: wrong })).rejects.toThrow(/world artifact app-2\.0: .*the file is app-1\.0 for \[pi4\], the world says app-2\.0 for \[pi4\]/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
