// The `__provider` text each resource stores: the dynamic provider host runs it as a module in
// the program's folder, so it must find the project from there without an absolute path (the
// state moves between a workstation and CI runners) and hand the host a whole provider.
import * as path from 'node:path';
import { Module } from 'node:module';
import { providerSource } from '../../provider/serialized-provider';
import { repoRoot } from '../helpers/pulumi';

/** As the host's require-from-string does: the text compiled as a module of the program's folder. */
function loadAsTheHostDoes(text: string, programDir: string): { handler(): Record<string, unknown> } {
  const filename = path.join(programDir, '__provider.js');
  const m = new Module(filename);
  m.filename = filename;
  m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(programDir);
  (m as unknown as { _compile(code: string, file: string): void })._compile(text, filename);
  return m.exports as { handler(): Record<string, unknown> };
}

describe('the stored provider code', () => {
  it('names the project relative to the program folder, never by an absolute path', () => {
    expect(providerSource('MenderDeployment', repoRoot)).toContain('path.resolve(process.cwd(), ".")');
    const fixture = path.join(repoRoot, 'test', 'fixtures', 'resources-program');
    const text = providerSource('ImageRelease', fixture);
    expect(text).toContain('path.resolve(process.cwd(), "../../..")');
    expect(text).not.toContain(repoRoot);
  });

  it('gives the host a provider with every method, for each kind', () => {
    const cwd = process.cwd();
    try {
      process.chdir(repoRoot);
      for (const kind of ['ImageRelease', 'MenderDeployment', 'DeviceConfiguration', 'DeviceConfigurationSet'] as const) {
        const provider = loadAsTheHostDoes(providerSource(kind, repoRoot), repoRoot).handler();
        expect(Object.keys(provider).sort()).toEqual(['check', 'configure', 'create', 'delete', 'diff', 'read', 'update']);
      }
    } finally {
      process.chdir(cwd);
    }
  });
});
