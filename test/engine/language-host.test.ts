// The Node.js language host through the real CLI, as a user meets it: `pulumi about` (text and
// JSON) and `pulumi plugin ls` on the fleet program, and `pulumi install` of a small project
// whose one dependency is a local package that declares a resource plugin.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pulumiWorkspace, PulumiWorkspace, repoRoot } from '../helpers/pulumi';

interface About {
  plugins: { name: string; kind: string; version: string }[];
  runtime: Record<string, string>;
  dependencies: { name: string; version: string }[];
}

const installed = (pkg: string): string =>
  (JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
const npmVersion = execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim();
const nodePath = execFileSync('bash', ['-c', 'command -v node'], { encoding: 'utf8' }).trim();

describe('the language host through the CLI', () => {
  let ws: PulumiWorkspace;
  let probe: string;

  beforeAll(() => {
    ws = pulumiWorkspace();
    // npm reads these from the environment; the install below needs nothing from a registry.
    Object.assign(ws.env, { npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' });
    probe = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-install-'));
  });

  afterAll(() => {
    ws?.dispose();
    if (probe) fs.rmSync(probe, { recursive: true, force: true });
  });

  it('pulumi about shows Node.js with a clean version, npm, the dependencies and the github plugin as required', async () => {
    const { stdout } = await ws.ok(['about']);
    const line = stdout.split('\n').find((l) => l.startsWith('This project is written in nodejs'));
    expect(line).toBeDefined();
    // The version straight from node, without the line break `node --version` ends with.
    expect(line).toContain(`executable='${nodePath}' version='${process.version}'`);
    expect(line).toContain("packagemanager='npm'");
    expect(line).toContain(`packagemanagerVersion='${npmVersion}'`);
    expect(stdout).toMatch(new RegExp(`^resource\\s+github\\s+${installed('@pulumi/github').replace(/\./g, '\\.')}\\s*$`, 'm'));
    expect(stdout).toMatch(/^Dependencies:$/m);
    expect(stdout).toMatch(/^@pulumi\/pulumi\s+3\.248\.0\s*$/m);
    expect(stdout).toMatch(/^typescript\s+\d+\.\d+\.\d+\s*$/m);
  });

  it('pulumi about --json: the runtime, the github plugin, the direct dependencies and, when asked, the transitive ones', async () => {
    const about = JSON.parse((await ws.ok(['about', '--json'])).stdout) as About;
    expect(about.runtime).toEqual({ language: 'nodejs', executable: nodePath, version: process.version, packagemanager: 'npm', packagemanagerVersion: npmVersion });
    expect(about.plugins).toEqual(expect.arrayContaining([
      { name: 'github', kind: 'resource', version: installed('@pulumi/github') },
      { name: 'nodejs', kind: 'language', version: '3.248.0' },
    ]));
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const direct = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).sort();
    expect(about.dependencies.map((d) => d.name).sort()).toEqual(direct);
    expect(about.dependencies).toContainEqual({ name: '@pulumi/github', version: installed('@pulumi/github') });

    const transitive = JSON.parse((await ws.ok(['about', '--json', '--transitive'])).stdout) as About;
    // @grpc/grpc-js comes with @pulumi/pulumi; package.json does not name it.
    expect(transitive.dependencies).toContainEqual({ name: '@grpc/grpc-js', version: installed('@grpc/grpc-js') });
    expect(transitive.dependencies.length).toBeGreaterThan(about.dependencies.length);
  });

  it("pulumi plugin ls --project lists the program's language plugin, and no github plugin is installed here", async () => {
    const plugins = JSON.parse((await ws.ok(['plugin', 'ls', '--project', '--json'])).stdout) as { name: string; kind: string }[];
    expect(plugins).toContainEqual(expect.objectContaining({ name: 'nodejs', kind: 'language' }));
    // Required (see about) but not downloadable on these machines: the engine loads it on demand.
    expect(plugins.some((p) => p.name === 'github')).toBe(false);
  });

  it('pulumi install runs npm ci through the language host and names the plugin it cannot download', async () => {
    // The local package declares a resource plugin served from a port where nothing listens.
    fs.mkdirSync(path.join(probe, 'fleetprobe-sdk'));
    fs.writeFileSync(path.join(probe, 'fleetprobe-sdk', 'package.json'), JSON.stringify({
      name: '@acme/fleetprobe', version: '0.3.0', pulumi: { resource: true, name: 'fleetprobe', server: 'http://127.0.0.1:9/' },
    }));
    fs.writeFileSync(path.join(probe, 'package.json'), JSON.stringify({ name: 'probe', version: '1.0.0', dependencies: { '@acme/fleetprobe': 'file:fleetprobe-sdk' } }));
    fs.writeFileSync(path.join(probe, 'Pulumi.yaml'), 'name: probe\nruntime:\n  name: nodejs\n  options:\n    packagemanager: npm\n');
    execFileSync('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund'], { cwd: probe, env: ws.env, stdio: 'ignore' });
    expect(fs.existsSync(path.join(probe, 'node_modules'))).toBe(false); // a fresh clone: only the lock

    const result = await ws.run(['install'], { cwd: probe });
    const output = result.stdout + result.stderr;
    expect(output).toContain('Installing dependencies...');
    expect(output).toContain('$ npm ci --loglevel=error');
    expect(output).toContain('Finished installing dependencies');
    // npm installed the dependency (a link to the folder), and the host then found its plugin.
    expect(fs.realpathSync(path.join(probe, 'node_modules', '@acme', 'fleetprobe'))).toBe(fs.realpathSync(path.join(probe, 'fleetprobe-sdk')));
    expect(result.code).not.toBe(0);
    expect(output).toMatch(/failed to download plugin: fleetprobe-0\.3\.0/);

    const about = JSON.parse((await ws.ok(['about', '--json'], { cwd: probe })).stdout) as About;
    expect(about.plugins).toContainEqual({ name: 'fleetprobe', kind: 'resource', version: '0.3.0' });
    expect(about.dependencies).toEqual([{ name: '@acme/fleetprobe', version: '0.3.0' }]);
  });

  it('refuses a project of another package manager, saying what to do', async () => {
    const dir = fs.mkdtempSync(path.join(probe, 'yarn-'));
    fs.writeFileSync(path.join(dir, 'package.json'), '{"name": "y"}');
    fs.writeFileSync(path.join(dir, 'Pulumi.yaml'), 'name: y\nruntime:\n  name: nodejs\n  options:\n    packagemanager: yarn\n');
    const result = await ws.run(['install'], { cwd: dir });
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toContain('packagemanager "yarn" is not supported by this language host, which drives npm only (engine/langhost)');
  });
});
