import { parseWorld, WorldError } from '../../emulator';

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

  it('reports YAML syntax errors and duplicate ids with their line', () => {
    expect(() => parseWorld('devices: [\n  {id: a', 'w.yaml')).toThrow(/^w\.yaml:\d+:\d+: invalid YAML/);
    const dup = ['devices:', '  - {id: a, device_type: t, artifact_name: x}', '  - {id: a, device_type: t, artifact_name: x}'].join('\n');
    expect(() => parseWorld(dup, 'w.yaml')).toThrow(/^w\.yaml:3:\d+: duplicate device id a$/);
  });
});
