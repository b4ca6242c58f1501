// The set-up scripts (scripts/setup, engine, go-tools, minio, lib/cache-build.sh), run for real
// in a copy of the repository's set-up files with a fresh cache folder (MENDER_FLEET_CACHE) and
// stand-ins for `go`, `npm` and `dpkg-query` first on PATH: the stand-in `go` records what it
// is asked to build and writes small binaries that answer the version checks, so a "build" takes
// a chosen time instead of minutes, and nothing touches the real cache or node_modules.
//
// What is proved: the demo's set-up builds the engine and nothing else; the tests' set-up builds
// every tool; two set-ups (or two MinIO builds, with or without the lock) started at once both
// succeed and leave the cache complete, with no temporary folder behind.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const repo = path.join(__dirname, '..', '..');
const pulumiVersion: string = JSON.parse(fs.readFileSync(path.join(repo, 'package-lock.json'), 'utf8')).packages['node_modules/@pulumi/pulumi'].version;
const actionlintVersion = /^actionlint_version=(\S+)$/m.exec(fs.readFileSync(path.join(repo, 'scripts', 'go-tools'), 'utf8'))![1];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const STUB_GO = `#!/bin/bash
# A stand-in for go: records its arguments, waits STUB_GO_SLEEP seconds for a build, and writes
# a binary that answers the version check of the script that asked for it.
echo "go $*" >> "$STUB_LOG"
fake() { # <path> <what it prints>
  mkdir -p "$(dirname "$1")"
  printf '#!/bin/sh\\necho %s\\n' "$2" > "$1.part" && chmod +x "$1.part" && mv "$1.part" "$1"
}
case "$1" in
  version) echo "go version go1.99.0 linux/amd64" ;;
  env) echo "https://proxy.example" ;;
  build)
    sleep "\${STUB_GO_SLEEP:-0}"
    [ -n "\${STUB_GO_FAIL:-}" ] && { echo "stub go: build failed" >&2; exit 1; }
    while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
    fake "$out" "v${pulumiVersion}" ;;
  install)
    sleep "\${STUB_GO_SLEEP:-0}"
    pkg=\${@: -1}; name=$(basename "\${pkg%@*}")
    case "$name" in actionlint) v=${actionlintVersion} ;; *) v="$name version stub" ;; esac
    fake "$GOBIN/$name" "$v" ;;
  *) echo "stub go: unexpected: $*" >&2; exit 2 ;;
esac
`;

const STUB_NPM = `#!/bin/bash
echo "npm $*" >> "$STUB_LOG"
sleep "\${STUB_NPM_SLEEP:-0}"
mkdir -p node_modules && cp package-lock.json node_modules/.package-lock.json
`;

const STUB_CURL = `#!/bin/bash
# A stand-in for curl: get.pulumi.com is reachable, and its installer (after STUB_CURL_SLEEP
# seconds) writes into --install-root/bin binaries that answer the version check.
echo "curl $*" >> "$STUB_LOG"
case "$*" in *"-o /dev/null"*) exit 0 ;; esac
cat <<'SH'
while [ $# -gt 0 ]; do case "$1" in --version) v=$2; shift ;; --install-root) r=$2; shift ;; esac; shift; done
mkdir -p "$r/bin"
sleep "\${STUB_CURL_SLEEP:-0}"
for b in pulumi pulumi-language-nodejs; do printf '#!/bin/sh\\necho v%s\\n' "$v" > "$r/bin/$b"; chmod +x "$r/bin/$b"; done
SH
`;

const STUB_DPKG_QUERY = `#!/bin/bash
echo "dpkg-query $*" >> "$STUB_LOG"
printf 'install ok installed'
`;

interface Sandbox {
  root: string;
  clone: string;
  cache: string;
  log: string;
  env: NodeJS.ProcessEnv;
}

const sandboxes: string[] = [];

/** A copy of what the set-up reads (scripts, package-lock.json, the engine's sources), a fresh cache, and the stand-ins. */
function sandbox(extraEnv: NodeJS.ProcessEnv = {}, stubbed = ['go', 'npm', 'dpkg-query']): Sandbox {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-setup-'));
  sandboxes.push(root);
  const clone = path.join(root, 'clone');
  fs.cpSync(path.join(repo, 'scripts'), path.join(clone, 'scripts'), { recursive: true });
  fs.copyFileSync(path.join(repo, 'package-lock.json'), path.join(clone, 'package-lock.json'));
  for (const f of ['go.mod', 'go.sum']) {
    fs.mkdirSync(path.join(clone, 'engine'), { recursive: true });
    fs.copyFileSync(path.join(repo, 'engine', f), path.join(clone, 'engine', f));
  }
  fs.cpSync(path.join(repo, 'engine', 'langhost'), path.join(clone, 'engine', 'langhost'), { recursive: true });
  // The compile step needs the real node_modules; test/setup/compiled.test.ts runs it for real.
  fs.writeFileSync(path.join(clone, 'scripts', 'build'), '#!/bin/bash\necho "scripts/build" >> "$STUB_LOG"\n', { mode: 0o755 });
  const stubs = path.join(root, 'stubs');
  fs.mkdirSync(stubs);
  for (const [name, text] of Object.entries({ go: STUB_GO, npm: STUB_NPM, 'dpkg-query': STUB_DPKG_QUERY, curl: STUB_CURL })) {
    if (stubbed.includes(name)) fs.writeFileSync(path.join(stubs, name), text, { mode: 0o755 });
  }
  const cache = path.join(root, 'cache');
  const log = path.join(root, 'calls.log');
  fs.writeFileSync(log, '');
  const env: NodeJS.ProcessEnv = {
    HOME: root,
    // The stand-ins first; no real go (it lives outside /usr/bin), no pulumi on PATH.
    PATH: [stubs, path.dirname(process.execPath), '/usr/bin', '/bin'].join(path.delimiter),
    MENDER_FLEET_CACHE: cache,
    STUB_LOG: log,
    ...extraEnv,
  };
  return { root, clone, cache, log, env };
}

afterAll(() => {
  for (const dir of sandboxes) fs.rmSync(dir, { recursive: true, force: true });
});

const calls = (s: Sandbox) => fs.readFileSync(s.log, 'utf8').split('\n').filter(Boolean);
const builds = (s: Sandbox) => calls(s).filter((c) => /^go (build|install) /.test(c));
const setup = (s: Sandbox, ...args: string[]) => run('bash', [path.join(s.clone, 'scripts', 'setup'), ...args], { cwd: s.clone, env: s.env });

/** Every file and folder under the cache, relative to it (the lock files left out). */
function cacheTree(s: Sandbox): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const rel = path.relative(s.cache, path.join(dir, e.name));
      if (e.name.endsWith('.lock')) continue;
      out.push(rel);
      if (e.isDirectory()) walk(path.join(dir, e.name));
    }
  };
  if (fs.existsSync(s.cache)) walk(s.cache);
  return out.sort();
}

/** What a complete cache of the tests' set-up holds (besides the folders on the way). */
function expectCompleteCache(s: Sandbox, tools: boolean) {
  const tree = cacheTree(s);
  expect(tree.filter((p) => path.basename(p).startsWith('.'))).toEqual([]); // no temporary folder left behind
  const binaries = tree.filter((p) => /\/(pulumi|pulumi-language-nodejs|pulumi-resource-pulumi-nodejs|actionlint|minio)$/.test(p));
  expect(binaries.map((p) => path.basename(p)).sort()).toEqual(
    tools ? ['actionlint', 'minio', 'pulumi', 'pulumi-language-nodejs', 'pulumi-resource-pulumi-nodejs'] : ['pulumi', 'pulumi-language-nodejs', 'pulumi-resource-pulumi-nodejs'],
  );
  expect(tree.some((p) => p.startsWith('tools'))).toBe(tools);
}

describe('scripts/setup --for demo (what `npm run demo` runs)', () => {
  it('installs the npm packages and builds the engine, and nothing else', async () => {
    const s = sandbox();
    const result = await setup(s, '--for', 'demo');
    expect(result).toMatchObject({ code: 0 });
    expect(result.stderr).toContain("setup: for the demo: npm packages, the compiled program and the Pulumi engine (the tests' tools are set up by npm test)");
    expect(calls(s)).toContain('npm ci --no-audit --no-fund');
    // The program compiled (a no-op when dist/ is current), after the npm packages it needs.
    expect(calls(s).indexOf('scripts/build')).toBeGreaterThan(calls(s).indexOf('npm ci --no-audit --no-fund'));
    // The engine's two builds (the CLI, then the language host) and no other: no actionlint, no MinIO, no apt.
    expect(builds(s)).toEqual([
      expect.stringMatching(/^go build .* github\.com\/pulumi\/pulumi\/pkg\/v3\/cmd\/pulumi$/),
      expect.stringMatching(/^go build .* \.\/langhost$/),
    ]);
    expect(calls(s).filter((c) => c.startsWith('dpkg-query'))).toEqual([]);
    expectCompleteCache(s, false);
    expect(result.stderr).not.toMatch(/actionlint|MinIO|mender-tools/);
  });

  it('is what scripts/demo runs before the demo', () => {
    const demo = fs.readFileSync(path.join(repo, 'scripts', 'demo'), 'utf8');
    expect(demo).toMatch(/^bash scripts\/setup --for demo$/m);
    expect(demo).not.toMatch(/^bash scripts\/setup$/m);
  });

  it('refuses a purpose it does not know, naming the two it knows', async () => {
    const s = sandbox();
    const result = await setup(s, '--for', 'deploy');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("setup: --for takes demo or tests, not 'deploy'");
    expect(calls(s)).toEqual([]);
  });
});

describe('scripts/setup (what `npm test` runs)', () => {
  it('builds the engine and the tools the tests use, and checks the Mender packages', async () => {
    const s = sandbox();
    const result = await setup(s);
    expect(result).toMatchObject({ code: 0 });
    expect(builds(s)).toEqual([
      expect.stringMatching(/cmd\/pulumi$/),
      expect.stringMatching(/\.\/langhost$/),
      expect.stringMatching(/^go install .*github\.com\/rhysd\/actionlint\/cmd\/actionlint@/),
      expect.stringMatching(/^go install .*github\.com\/minio\/minio@/),
    ]);
    // Mender's three tools, and what the real-client tests' scripts run.
    expect(calls(s).filter((c) => c.startsWith('dpkg-query')).map((c) => c.split(' ').pop())).toEqual(['mender-artifact', 'mender-cli', 'mender-client', 'jq', 'openssl', 'curl']);
    expect(calls(s)).toContain('scripts/build');
    expectCompleteCache(s, true);
  });

  it('a second run builds nothing', async () => {
    const s = sandbox();
    expect(await setup(s)).toMatchObject({ code: 0 });
    fs.writeFileSync(s.log, '');
    expect(await setup(s)).toMatchObject({ code: 0 });
    expect(builds(s)).toEqual([]);
    expect(calls(s).filter((c) => c.startsWith('npm'))).toEqual([]);
  });
});

describe('two set-ups at once on one fresh cache', () => {
  it('both succeed: the demo and the tests in two terminals; each build runs once, the other set-up waits for it', async () => {
    // Builds slow enough that the second set-up arrives while the first is building.
    const s = sandbox({ STUB_GO_SLEEP: '2', STUB_NPM_SLEEP: '2' });
    const [demo, tests] = await Promise.all([setup(s, '--for', 'demo'), setup(s)]);
    expect(demo).toMatchObject({ code: 0 });
    expect(tests).toMatchObject({ code: 0 });
    expect(calls(s).filter((c) => c.startsWith('npm'))).toEqual(['npm ci --no-audit --no-fund']);
    expect(builds(s).filter((c) => c.endsWith('/cmd/pulumi'))).toHaveLength(1);
    expect(`${demo.stderr}${tests.stderr}`).toMatch(/another set-up is (running npm ci here|building .*\/engine\/)/);
    expectCompleteCache(s, true);
  });

  it('both succeed: two set-ups of the tests (two clones sharing the cache)', async () => {
    const s = sandbox({ STUB_GO_SLEEP: '1' });
    const results = await Promise.all([setup(s), setup(s)]);
    for (const r of results) expect(r).toMatchObject({ code: 0 });
    // The lock lets each tool be built once; the second set-up used the first one's.
    expect(builds(s)).toHaveLength(4);
    expectCompleteCache(s, true);
  });

  it('both succeed without the lock (no flock, as on macOS): each builds its own MinIO, one is published, the other discarded', async () => {
    // The failure: the second build's `mv …/minio-….tmp` found the first had moved it.
    const s = sandbox({ STUB_GO_SLEEP: '2', MENDER_FLEET_CACHE_LOCK: 'no' });
    const minio = () => run('bash', [path.join(s.clone, 'scripts', 'minio')], { cwd: s.clone, env: s.env });
    const results = await Promise.all([minio(), minio()]);
    for (const r of results) {
      expect(r).toMatchObject({ code: 0 });
      expect(r.stdout.trim()).toMatch(/\/tools\/minio-v[^/]+\/minio$/);
    }
    expect(builds(s).filter((c) => c.includes('minio@'))).toHaveLength(2);
    const tree = cacheTree(s);
    expect(tree.filter((p) => path.basename(p).startsWith('.'))).toEqual([]);
    expect(tree.filter((p) => p.endsWith('/minio'))).toHaveLength(1);
  });
});

describe("scripts/engine without Go: Pulumi's official installer", () => {
  it('two at once both succeed with one install, kept in the cache and used again', async () => {
    const s = sandbox({ STUB_CURL_SLEEP: '2' }, ['curl']);
    const engine = () => run('bash', [path.join(s.clone, 'scripts', 'engine')], { cwd: s.clone, env: s.env });
    const official = path.join(s.cache, 'engine', `v${pulumiVersion}-official`, 'bin');
    const results = await Promise.all([engine(), engine()]);
    for (const r of results) expect({ code: r.code, bin: r.stdout.trim() }).toEqual({ code: 0, bin: official });
    const installs = () => calls(s).filter((c) => c === 'curl -fsSL https://get.pulumi.com');
    expect(installs()).toHaveLength(1);
    // pulumi.version: scripts/engine's stamp that this CLI answered its version (asked once, not on every call).
    expect(fs.readdirSync(official).sort()).toEqual(['pulumi', 'pulumi-language-nodejs', 'pulumi.version']);
    expect(cacheTree(s).filter((p) => path.basename(p).startsWith('.'))).toEqual([]);
    const again = await engine();
    expect({ code: again.code, bin: again.stdout.trim() }).toEqual({ code: 0, bin: official });
    expect(again.stderr).toContain('(official installer, cached)');
    expect(installs()).toHaveLength(1);
  });
});

describe('the real scripts/go-tools, twice at once on a fresh cache', () => {
  // The real Go: seconds when the Go module and build caches are warm (scripts/setup, which
  // npm test runs first, built actionlint once already); the cache folder alone is fresh.
  it.each(['yes', 'no'])('both print the pinned actionlint, which works (lock: %s)', async (lock) => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-go-tools-'));
    sandboxes.push(root);
    const env = { ...process.env, MENDER_FLEET_CACHE: path.join(root, 'cache'), MENDER_FLEET_CACHE_LOCK: lock };
    const goTools = () => run('bash', [path.join(repo, 'scripts', 'go-tools')], { cwd: repo, env });
    const results = await Promise.all([goTools(), goTools()]);
    const expected = path.join(root, 'cache', 'tools', `actionlint-${actionlintVersion}`, 'actionlint');
    for (const r of results) expect({ code: r.code, binary: r.stdout.trim().split('\n').pop(), stderr: r.stderr }).toEqual({ code: 0, binary: expected, stderr: expect.any(String) });
    const version = await run(expected, ['-version'], { cwd: root, env });
    expect(version.stdout.split('\n')[0]).toBe(actionlintVersion);
    expect(fs.readdirSync(path.join(root, 'cache', 'tools')).filter((f) => !f.endsWith('.lock'))).toEqual([`actionlint-${actionlintVersion}`]);
  });
});

describe('scripts/lib/cache-build.sh', () => {
  /** cache_build of <target> with a build that writes two files a second apart. */
  const cacheBuild = (s: Sandbox, target: string, build = 'echo a > "$1/a"; sleep 1; echo b > "$1/b"') =>
    run(
      'bash',
      ['-c', `set -euo pipefail; . scripts/lib/cache-build.sh; build() { echo "build $$" >> "$STUB_LOG"; ${build}; }; complete() { [ -f "$1/b" ]; }; cache_build "$1" complete build test; echo published`, 'cache-build', target],
      { cwd: s.clone, env: s.env },
    );

  it('two builds at once: both succeed and the target holds one whole build', async () => {
    for (const lock of ['yes', 'no']) {
      const s = sandbox({ MENDER_FLEET_CACHE_LOCK: lock });
      const target = path.join(s.cache, 'tools', 'thing');
      const results = await Promise.all([cacheBuild(s, target), cacheBuild(s, target)]);
      for (const r of results) expect(r).toMatchObject({ code: 0, stdout: 'published\n' });
      expect(fs.readdirSync(target).sort()).toEqual(['a', 'b']);
      expect(cacheTree(s)).toEqual(['tools', 'tools/thing', 'tools/thing/a', 'tools/thing/b']);
      // With the lock the second waited and used the first's build; without, both built.
      expect(calls(s)).toHaveLength(lock === 'yes' ? 1 : 2);
    }
  });

  it('a failed build publishes nothing and leaves no temporary folder', async () => {
    const s = sandbox();
    const target = path.join(s.cache, 'tools', 'thing');
    const result = await cacheBuild(s, target, 'echo a > "$1/a"; false');
    expect(result.code).not.toBe(0);
    expect(cacheTree(s)).toEqual(['tools']);
  });

  it('a build that ends without a complete result is refused', async () => {
    const s = sandbox();
    const result = await cacheBuild(s, path.join(s.cache, 'tools', 'thing'), 'echo a > "$1/a"');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('test: the build finished but its result is incomplete');
    expect(cacheTree(s)).toEqual(['tools']);
  });

  it('replaces an incomplete target (left by an older set-up) with a whole build', async () => {
    const s = sandbox();
    const target = path.join(s.cache, 'tools', 'thing');
    fs.mkdirSync(target, { recursive: true });
    fs.writeFileSync(path.join(target, 'a'), 'half');
    expect(await cacheBuild(s, target)).toMatchObject({ code: 0 });
    expect(fs.readFileSync(path.join(target, 'a'), 'utf8')).toBe('a\n');
    expect(cacheTree(s)).toEqual(['tools', 'tools/thing', 'tools/thing/a', 'tools/thing/b']);
  });

  it('a complete target is used as it is', async () => {
    const s = sandbox();
    const target = path.join(s.cache, 'tools', 'thing');
    expect(await cacheBuild(s, target)).toMatchObject({ code: 0 });
    expect(await cacheBuild(s, target)).toMatchObject({ code: 0 });
    expect(calls(s)).toHaveLength(1);
  });
});
