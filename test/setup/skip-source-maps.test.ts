// bin/skip-source-maps.js: when the project runs compiled, Pulumi's program runner and dynamic
// provider host start without installing source-map-support; through ts-node they keep it.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as yaml from 'yaml';
import { repoRoot } from '../helpers/pulumi';

const preload = path.join(repoRoot, 'bin', 'skip-source-maps.js');
const hosts = {
  'the program runner': require.resolve('@pulumi/pulumi/cmd/run/index.js', { paths: [repoRoot] }),
  'the dynamic provider host': require.resolve('@pulumi/pulumi/cmd/dynamic-provider/index.js', { paths: [repoRoot] }),
};

/** Runs node in the project folder, compiled unless `env` says otherwise (whatever the shell's MENDER_FLEET_TS_NODE). */
function node(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, args, { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, MENDER_FLEET_TS_NODE: '', ...env }, timeout: 60_000 });
}

/**
 * Starts one of Pulumi's hosts as the engine would, but without an engine (so it stops at its
 * arguments, after its first requires), and reports what it had installed when it exited.
 */
function start(host: string, preloads: string[], env: NodeJS.ProcessEnv = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skip-source-maps-'));
  try {
    const report = path.join(dir, 'report.json');
    const reporter = path.join(dir, 'reporter.js');
    fs.writeFileSync(reporter, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(report)}, JSON.stringify({
      sourceMapSupport: Object.keys(require.cache).some((f) => f.includes('/source-map-support/')),
      // source-map-support's own hook is named so; Node.js's default is ErrorPrepareStackTrace, or none.
      mapsStackTraces: Error.prepareStackTrace?.name === 'prepareStackTrace',
    })));\n`);
    const args = [...preloads.flatMap((p) => ['--require', p]), '--require', reporter, host];
    node(args, env);
    return JSON.parse(fs.readFileSync(report, 'utf8')) as { sourceMapSupport: boolean; mapsStackTraces: boolean };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('bin/skip-source-maps.js', () => {
  it('is needed: both hosts install source-map-support first thing (so a Pulumi upgrade that moves it fails here)', () => {
    for (const [name, host] of Object.entries(hosts)) {
      expect({ name, requires: /^require\("source-map-support\/register"\);$/m.test(fs.readFileSync(host, 'utf8')) }).toEqual({ name, requires: true });
      expect({ name, ...start(host, []) }).toEqual({ name, sourceMapSupport: true, mapsStackTraces: true });
    }
  });

  it('starts both hosts without it when dist/ is current', () => {
    const mode = node(['-p', `require('./bin/compiled').loadMode()`]);
    expect(mode.stdout.trim()).toBe('compiled'); // npm test builds dist/ first (scripts/test runs scripts/setup)
    for (const [name, host] of Object.entries(hosts)) {
      expect({ name, ...start(host, [preload]) }).toEqual({ name, sourceMapSupport: false, mapsStackTraces: false });
    }
  });

  it('leaves the mapping in place through ts-node, where it names the TypeScript lines being edited', () => {
    for (const [name, host] of Object.entries(hosts)) {
      expect({ name, ...start(host, [preload], { MENDER_FLEET_TS_NODE: '1' }) }).toEqual({ name, sourceMapSupport: true, mapsStackTraces: true });
    }
  });

  it('skips only the hosts\' own require: any other module that asks for source-map-support gets it', () => {
    const script = `
      const Module = require('module');
      const other = new Module(require('path').join(process.cwd(), 'node_modules', 'some-tool', 'index.js'));
      other.filename = other.id;
      other.paths = Module._nodeModulePaths(process.cwd());
      Module._load('source-map-support/register', other);
      process.stdout.write(String(Object.keys(require.cache).some((f) => f.includes('/source-map-support/'))));`;
    const run = node(['--require', preload, '-e', script]);
    expect(run.stdout).toBe('true');
  });

  it('is preloaded by the program (Pulumi.yaml) and required by the dynamic provider (bin/dynamic-provider.js)', () => {
    const project = yaml.parse(fs.readFileSync(path.join(repoRoot, 'Pulumi.yaml'), 'utf8'));
    expect(project.runtime.options.nodeargs.split(/\s+/)).toEqual(expect.arrayContaining(['--require', './bin/skip-source-maps.js']));
    const provider = fs.readFileSync(path.join(repoRoot, 'bin', 'dynamic-provider.js'), 'utf8');
    expect(provider).toMatch(/^require\('\.\/skip-source-maps'\);$/m);
    // Before Pulumi's host: the require is what the preload intercepts.
    expect(provider.indexOf("require('./skip-source-maps')")).toBeLessThan(provider.indexOf("require('@pulumi/pulumi/cmd/dynamic-provider')"));
  });
});
