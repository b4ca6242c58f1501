// The compiled program (scripts/build, bin/compiled.js): dist/ is used only when it was built
// from exactly the sources in the tree; an edited source runs from TypeScript, never from a
// stale build; two builds at once both succeed.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const repo = path.join(__dirname, '..', '..');

/** A copy of what scripts/build reads, with the real node_modules linked in. */
function projectCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-compiled-'));
  for (const entry of ['index.ts', 'program', 'provider', 'shared', 'cli', 'emulator', 'bin', 'scripts', 'tsconfig.json', 'tsconfig.build.json', 'package.json']) {
    fs.cpSync(path.join(repo, entry), path.join(dir, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

const node = (dir: string, script: string, env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env } });

const loadMode = (dir: string, env: NodeJS.ProcessEnv = {}) => node(dir, "process.stdout.write(require('./bin/compiled').loadMode())", env).stdout;

describe('the compiled program', () => {
  let dir: string;
  beforeAll(() => { dir = projectCopy(); });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs from TypeScript before a build, from dist/ after one, and from TypeScript again once a source changes', () => {
    expect(loadMode(dir)).toBe('ts-node');

    const build = spawnSync('bash', [path.join(dir, 'scripts', 'build')], { cwd: dir, encoding: 'utf8' });
    expect(build.stderr).toContain('build: compiling to dist/');
    expect(build.status).toBe(0);
    expect(fs.existsSync(path.join(dir, 'dist', 'cli', 'index.js'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'dist', 'provider', 'implementations.js'))).toBe(true);
    expect(loadMode(dir)).toBe('compiled');
    // The compiled CLI works, and finds the project (not dist/) as its root.
    const help = spawnSync(process.execPath, [path.join(dir, 'bin', 'fleet.js'), '--help'], { cwd: dir, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('validate');
    expect(node(dir, "process.stdout.write(require('./bin/compiled').load('cli/workspace').repoRoot)").stdout).toBe(fs.realpathSync(dir));

    // A second build finds dist/ current and does nothing.
    const again = spawnSync('bash', [path.join(dir, 'scripts', 'build')], { cwd: dir, encoding: 'utf8' });
    expect(again.status).toBe(0);
    expect(again.stderr).toBe('');

    // An edit (here: to a comment) makes dist/ stale: the source runs, never the old build.
    const file = path.join(dir, 'program', 'plan.ts');
    fs.appendFileSync(file, '\n// edited\n');
    expect(loadMode(dir)).toBe('ts-node');
    expect(loadMode(dir, { MENDER_FLEET_TS_NODE: '1' })).toBe('ts-node');
  });

  it('two builds at once both succeed and leave one complete dist/', async () => {
    const copy = projectCopy();
    try {
      const run = () => new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn('bash', [path.join(copy, 'scripts', 'build')], { cwd: copy });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
        child.on('close', (code) => resolve({ code, stderr }));
      });
      const results = await Promise.all([run(), run()]);
      expect(results.map((r) => r.code)).toEqual([0, 0]);
      expect(loadMode(copy)).toBe('compiled');
      // Nothing half-built is left beside it.
      expect(fs.readdirSync(copy).filter((f) => f.startsWith('.dist.build-') || f.startsWith('.dist.stale-'))).toEqual([]);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
  });
});
