// bin/defer-closures.js: Pulumi's runtime loads without its closure serializer, which still works
// when used; the processes that start often (the dynamic provider, the program, `fleet`) preload it.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as yaml from 'yaml';
import { engineBin, repoRoot } from '../helpers/pulumi';

const preload = path.join(repoRoot, 'bin', 'defer-closures.js');

/** Runs a script in a Node.js process of its own (jest's module registry bypasses require hooks). */
function node(script: string, args: string[] = ['--require', preload]) {
  const run = spawnSync(process.execPath, [...args, '-e', script], { cwd: repoRoot, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`node exited with ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

/** Which of the serializer's heavy dependencies a process has loaded. */
const loaded = `Object.fromEntries(['/typescript/', '/@npmcli/arborist/', '/runtime/closure/'].map((m) => [m, Object.keys(require.cache).some((f) => f.includes(m))]))`;

describe('bin/defer-closures.js', () => {
  it('lets the runtime and the Automation API load without the TypeScript compiler, arborist or the serializer', () => {
    for (const module of ['@pulumi/pulumi/runtime', '@pulumi/pulumi/automation', '@pulumi/pulumi']) {
      const result = node(`require('${module}'); process.stdout.write(JSON.stringify(${loaded}))`);
      expect({ module, result }).toEqual({ module, result: { '/typescript/': false, '/@npmcli/arborist/': false, '/runtime/closure/': false } });
    }
    // Without it, the same require loads all three: what the preload saves is real.
    const bare = node(`require('@pulumi/pulumi/runtime'); process.stdout.write(JSON.stringify(${loaded}))`, []);
    expect(bare).toEqual({ '/typescript/': true, '/@npmcli/arborist/': true, '/runtime/closure/': true });
  });

  it('loads the serializer at its first use, and it serializes a closure as without the preload', () => {
    const script = `
      const runtime = require('@pulumi/pulumi/runtime');
      const before = ${loaded};
      const answer = 42;
      runtime.serializeFunction(() => answer).then((closure) => {
        process.stdout.write(JSON.stringify({ before, after: ${loaded}, text: closure.text, keys: Object.keys(runtime).filter((k) => /^(serializeFunction|serializeFunctionAsync|computeCodePaths)$/.test(k)).sort() }));
      });`;
    const deferred = node(script);
    const bare = node(script, []);
    expect(deferred.before).toEqual({ '/typescript/': false, '/@npmcli/arborist/': false, '/runtime/closure/': false });
    expect(deferred.after).toMatchObject({ '/typescript/': true, '/runtime/closure/': true });
    expect(deferred.text).toContain('with({ answer: 42');
    expect(deferred.text).toBe(bare.text);
    expect(deferred.keys).toEqual(['computeCodePaths', 'serializeFunction', 'serializeFunctionAsync']);
    expect(deferred.keys).toEqual(bare.keys);
  });

  it('names every function runtime/index.js takes from the modules it defers (so a Pulumi upgrade that adds one fails here)', () => {
    const source = fs.readFileSync(require.resolve('@pulumi/pulumi/runtime/index.js', { paths: [repoRoot] }), 'utf8');
    const copied = new Map<string, string[]>();
    for (const [, variable, request] of source.matchAll(/var (\w+) = require\("(\.\/closure\/\w+)"\);/g)) {
      copied.set(request, [...source.matchAll(new RegExp(`= ${variable}\\.(\\w+);`, 'g'))].map((m) => m[1]).sort());
    }
    expect(Object.fromEntries(copied)).toEqual({
      './closure/serializeClosure': ['serializeFunction', 'serializeFunctionAsync'],
      './closure/codePaths': ['computeCodePaths'],
    });
  });

  it('defers what jest\'s stand-ins (jest.config.js, test/helpers/deferred/) defer, function for function', () => {
    const deferred = node(`process.stdout.write(JSON.stringify(Object.fromEntries(require('./bin/defer-closures').DEFERRED)))`, []);
    const standIns = node(`process.stdout.write(JSON.stringify(Object.fromEntries(['serializeClosure', 'codePaths'].map((m) => ['./closure/' + m, Object.keys(require('./test/helpers/deferred/' + m + '.js')).sort()]))))`, []);
    expect(Object.fromEntries(Object.entries(deferred).map(([m, names]) => [m, [...(names as string[])].sort()]))).toEqual(standIns);
  });

  it('is preloaded by the program (Pulumi.yaml), by fleet (bin/fleet.js) and by the dynamic provider plugin (bin/dynamic-provider.js)', async () => {
    const project = yaml.parse(fs.readFileSync(path.join(repoRoot, 'Pulumi.yaml'), 'utf8'));
    expect(project.runtime.options.nodeargs.split(/\s+/)).toEqual(expect.arrayContaining(['--require', './bin/defer-closures.js']));
    expect(fs.readFileSync(path.join(repoRoot, 'bin', 'fleet.js'), 'utf8')).toMatch(/^require\('\.\/defer-closures'\);$/m);

    expect(fs.readFileSync(path.join(repoRoot, 'bin', 'dynamic-provider.js'), 'utf8')).toMatch(/^require\('\.\/defer-closures'\);$/m);

    // The plugin the engine starts for a dynamic provider, started as the engine starts it (in a
    // program's folder, the engine's address its argument): it answers with its port, and its
    // Node.js process is bin/dynamic-provider.js.
    const plugin = spawn(path.join(engineBin(), 'pulumi-resource-pulumi-nodejs'), ['127.0.0.1:0'], { cwd: path.join(repoRoot, 'test', 'fixtures') });
    try {
      const port = await new Promise<string>((resolve, reject) => {
        let out = '';
        plugin.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes('\n')) resolve(out.trim());
        });
        plugin.on('exit', (code) => reject(new Error(`the plugin exited with ${code} before it answered`)));
      });
      expect(port).toMatch(/^\d+$/);
      const argv = fs.readFileSync(`/proc/${plugin.pid}/cmdline`, 'utf8').split('\0');
      expect(argv.slice(1, 3)).toEqual([path.join(repoRoot, 'bin', 'dynamic-provider.js'), '127.0.0.1:0']);
    } finally {
      plugin.kill();
    }
  });
});
