// The GitHub Actions workflows (.github/workflows) and the shared set-up action: actionlint
// clean, and their meaning checked on the parsed YAML: triggers, the stack chosen per branch,
// concurrency, the fork guard, permissions, and secrets used by name only, never printed.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';

type Dict = Record<string, unknown>;
interface Step extends Dict {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Dict;
  env?: Record<string, string>;
  'continue-on-error'?: boolean;
}
interface Job extends Dict {
  name?: string;
  steps: Step[];
  env?: Record<string, string>;
  environment?: string | { name: string; deployment?: boolean };
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  strategy?: { matrix: Record<string, unknown[]> };
  permissions?: unknown;
  'timeout-minutes'?: number;
}
interface Workflow {
  name: string;
  on: Dict;
  permissions?: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  env?: Record<string, string>;
  jobs: Record<string, Job>;
}

const repo = path.join(__dirname, '..', '..');
const workflowsDir = path.join(repo, '.github', 'workflows');
const setupActionPath = path.join(repo, '.github', 'actions', 'setup-fleet', 'action.yml');
const RINGS = ['canary', 'production'];
const PULUMI_ACTION = 'pulumi/actions@v6';
const pulumiVersion: string = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')).dependencies['@pulumi/pulumi'];

/** The only secrets the workflows may name. */
const ALLOWED_SECRETS = [
  'MENDER_ACCESS_TOKEN',
  'MENDER_SERVER_URL',
  'PULUMI_CONFIG_PASSPHRASE',
  'PULUMI_BACKEND_URL',
  'PULUMI_ACCESS_TOKEN',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
];

const files = fs.readdirSync(workflowsDir).filter((f) => /\.ya?ml$/.test(f)).sort();
const raw: Record<string, string> = Object.fromEntries(files.map((f) => [f, fs.readFileSync(path.join(workflowsDir, f), 'utf8')]));
const wf: Record<string, Workflow> = Object.fromEntries(files.map((f) => [f, parse(raw[f]) as Workflow]));
const setupAction = parse(fs.readFileSync(setupActionPath, 'utf8')) as { runs: { using: string; steps: Step[] } };

/**
 * Evaluates the `${{ ... }}` parts of a string that are plain context paths (github.ref_name,
 * matrix.stack), as GitHub would for the given contexts; anything else is an error.
 */
function evaluate(template: string, contexts: Dict): string {
  return template.replace(/\$\{\{\s*([^}]*?)\s*\}\}/g, (_m, expr: string) => {
    if (!/^[a-z_]+(\.[a-z_]+)+$/.test(expr)) throw new Error(`not a plain context path: ${expr}`);
    let v: unknown = contexts;
    for (const part of expr.split('.')) v = (v as Dict | undefined)?.[part];
    if (typeof v !== 'string') throw new Error(`${expr} is not set in the test's contexts`);
    return v;
  });
}

function pulumiSteps(job: Job): Step[] {
  return job.steps.filter((s) => s.uses?.startsWith('pulumi/actions@'));
}

/** The one job of a workflow that runs Pulumi (preview.yml and drift.yml have a helper job beside it). */
function pulumiJob(file: string): Job {
  const jobs = Object.values(wf[file].jobs).filter((j) => pulumiSteps(j).length > 0);
  expect(jobs).toHaveLength(1);
  return jobs[0];
}

function stackConfig(stack: string): Dict {
  const file = path.join(repo, `Pulumi.${stack}.yaml`);
  expect(fs.existsSync(file)).toBe(true);
  return (parse(fs.readFileSync(file, 'utf8')) as { config: Dict }).config;
}

// ---- secrets: used by name only, never printed ------------------------------------------------

const SECRET_REF = /\bsecrets\.([A-Za-z_][A-Za-z0-9_]*)/g;
/** A `secrets.X` that is compared (`!= ''`) yields a boolean, not the secret. */
const SECRET_VALUE_REF = /\bsecrets\.[A-Za-z_][A-Za-z0-9_]*\b(?!\s*(?:[!=]=))/;

interface RunContext {
  where: string;
  run: string;
  /** env visible to the step: workflow, job and step env merged. */
  env: Record<string, string>;
}

function runSteps(): RunContext[] {
  const out: RunContext[] = [];
  for (const f of files) {
    const w = wf[f];
    for (const [jobId, job] of Object.entries(w.jobs)) {
      job.steps.forEach((s, i) => {
        if (s.run !== undefined) out.push({ where: `${f} ${jobId} step ${i + 1} (${s.name ?? s.run.split('\n')[0]})`, run: s.run, env: { ...w.env, ...job.env, ...s.env } });
      });
    }
  }
  setupAction.runs.steps.forEach((s, i) => {
    if (s.run !== undefined) out.push({ where: `setup-fleet step ${i + 1}`, run: s.run, env: { ...s.env } });
  });
  return out;
}

/** Why a run script could print a secret (empty: it cannot, as far as these rules see). */
function secretLeaks(step: RunContext): string[] {
  const findings: string[] = [];
  // Names whose value is a secret: env entries that take a secret's value, and the allowed
  // secrets' own names (in case they reach the environment another way).
  const secretNames = new Set(ALLOWED_SECRETS);
  for (const [name, value] of Object.entries(step.env)) {
    if (SECRET_VALUE_REF.test(String(value))) secretNames.add(name);
  }
  if (/\$\{\{[^}]*\bsecrets\./.test(step.run)) findings.push('a secret expanded into the script (pass it through env)');
  const hasSecretEnv = Object.values(step.env).some((v) => SECRET_VALUE_REF.test(String(v)));
  if (hasSecretEnv && /(^|[\s;&|])(set\s+-[a-wyz]*x|set\s+-o\s+xtrace|bash\s+-[a-wyz]*x)/m.test(step.run)) {
    findings.push('tracing (set -x) with secrets in the environment');
  }
  if (/(^|[\s;&|(])(printenv|env)(\s*($|[;&|)]))/m.test(step.run) || /(^|[\s;&|])(export|declare)\s+-p\b/m.test(step.run)) {
    findings.push('dumps the environment');
  }
  for (const line of step.run.split('\n')) {
    if (!/(^|[\s;&|(`])(echo|printf|cat|tee|print|logger|printenv|curl|wget)\b/.test(line) && !/>>?\s*"?\$GITHUB_(OUTPUT|ENV|STEP_SUMMARY|PATH)/.test(line)) continue;
    for (const name of secretNames) {
      if (new RegExp(`\\$\\{?${name}\\b`).test(line) || new RegExp(`printenv\\s+${name}\\b`).test(line)) {
        findings.push(`prints ${name}: ${line.trim()}`);
      }
    }
  }
  return findings;
}

describe('actionlint', () => {
  const actionlint = execFileSync('bash', [path.join(repo, 'scripts', 'go-tools')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trim().split('\n').pop()!;

  it('is the pinned version, built by scripts/go-tools outside the repository', () => {
    expect(path.isAbsolute(actionlint)).toBe(true);
    expect(actionlint.startsWith(repo + path.sep)).toBe(false);
    expect(actionlint).toMatch(/tools\/actionlint-v1\.7\.12\/actionlint$/);
    expect(execFileSync(actionlint, ['-version'], { encoding: 'utf8' }).split('\n')[0]).toBe('v1.7.12');
  });

  it('finds nothing in the workflows (and the set-up action they use)', () => {
    const result = spawnSync(actionlint, ['-no-color', '-oneline', ...files.map((f) => path.join(workflowsDir, f))], { cwd: repo, encoding: 'utf8' });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('does find problems when there are some (the check is live)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'actionlint-'));
    try {
      const bad = path.join(dir, 'bad.yml');
      fs.writeFileSync(bad, 'on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo "${{ github.event.pull_request.title }}"\n      - uses: actions/checkout@v4\n        with:\n          nope: 1\n');
      const result = spawnSync(actionlint, ['-no-color', '-oneline', bad], { encoding: 'utf8' });
      expect(result.status).toBe(1);
      expect(result.stdout).toMatch(/potentially untrusted/);
      expect(result.stdout).toMatch(/input "nope" is not defined/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Runs a step's script with stand-ins for commands on PATH (each a bash body); returns what it
 * wrote to GITHUB_OUTPUT and GITHUB_STEP_SUMMARY, and the stand-ins' calls (to $CALLS).
 */
function runWithStandIns(script: string, standIns: Record<string, string>, env: Record<string, string>): { status: number; output: string; summary: string; calls: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-wf-step-'));
  try {
    for (const [name, body] of Object.entries(standIns)) fs.writeFileSync(path.join(dir, name), `#!/usr/bin/env bash\n${body}\n`, { mode: 0o755 });
    const files = { GITHUB_OUTPUT: path.join(dir, 'output'), GITHUB_STEP_SUMMARY: path.join(dir, 'summary'), CALLS: path.join(dir, 'calls') };
    const r = spawnSync('bash', ['-e', '-c', script], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, ...files, ...env }, encoding: 'utf8' });
    const read = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
    return { status: r.status ?? -1, output: read(files.GITHUB_OUTPUT), summary: read(files.GITHUB_STEP_SUMMARY), calls: read(files.CALLS) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('the workflows', () => {
  it('are preview, apply and drift', () => {
    expect(files).toEqual(['apply.yml', 'drift.yml', 'preview.yml']);
  });

  it('never run on pull_request (its workflow and code are the pull request\'s) or workflow_run; only preview.yml on pull_request_target', () => {
    for (const f of files) {
      expect(Object.keys(wf[f].on)).not.toContain('pull_request');
      expect(Object.keys(wf[f].on)).not.toContain('workflow_run');
    }
    expect(files.filter((f) => 'pull_request_target' in wf[f].on)).toEqual(['preview.yml']);
  });

  it('pin every action to a major version, and use pulumi/actions for Pulumi', () => {
    const uses = [...files.flatMap((f) => Object.values(wf[f].jobs).flatMap((j) => j.steps.map((s) => s.uses))), ...setupAction.runs.steps.map((s) => s.uses)]
      .filter((u): u is string => u !== undefined);
    for (const u of uses) expect(u).toMatch(/^(\.\/\.github\/actions\/[a-z-]+|[\w-]+\/[\w-]+@v\d+)$/);
    expect(new Set(uses)).toEqual(new Set([
      'actions/checkout@v4', './.github/actions/setup-fleet', 'actions/setup-node@v4', 'actions/cache@v4', 'actions/setup-go@v5',
      PULUMI_ACTION, 'actions/github-script@v7',
    ]));
  });

  it('run the project set-up (npm ci, scripts/engine on PATH) before any Pulumi step', () => {
    const runs = setupAction.runs.steps.map((s) => s.run ?? '').join('\n');
    expect(runs).toMatch(/npm ci/);
    expect(runs).toMatch(/bash scripts\/engine \| tail -n 1/);
    expect(runs).toMatch(/>> "\$GITHUB_PATH"/);
    for (const f of files) {
      for (const job of [pulumiJob(f)]) {
        const setupAt = job.steps.findIndex((s) => s.uses === './.github/actions/setup-fleet');
        const checkoutAt = job.steps.findIndex((s) => s.uses === 'actions/checkout@v4');
        const pulumiAt = job.steps.findIndex((s) => s.uses === PULUMI_ACTION);
        expect(checkoutAt).toBeGreaterThanOrEqual(0);
        expect(setupAt).toBeGreaterThan(checkoutAt);
        expect(pulumiAt).toBeGreaterThan(setupAt);
      }
    }
  });

  it('ask pulumi/actions for the pinned CLI version, so it uses the one the set-up put on PATH', () => {
    for (const f of files) {
      for (const job of Object.values(wf[f].jobs)) {
        for (const s of pulumiSteps(job)) {
          expect(s.with?.['pulumi-version']).toBe(pulumiVersion);
          expect(s.with?.['pulumi-version-file']).toBeUndefined();
          expect(s.with?.['cloud-url']).toBe('${{ secrets.PULUMI_BACKEND_URL || vars.PULUMI_BACKEND_URL }}');
          // No download of the github plugin @pulumi/github (governance) names: the fleet needs none.
          expect(s.env?.PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION).toBe('true');
        }
      }
    }
  });

  it("install Pulumi's official CLI and language host (pulumi/actions, install only) at the pinned version, before scripts/engine", () => {
    const steps = setupAction.runs.steps;
    const officialAt = steps.findIndex((s) => s.uses === PULUMI_ACTION);
    const engineAt = steps.findIndex((s) => s.run?.includes('bash scripts/engine | tail -n 1'));
    expect(officialAt).toBeGreaterThan(steps.findIndex((s) => s.run?.includes('npm ci')));
    expect(engineAt).toBeGreaterThan(officialAt);
    const official = steps[officialAt];
    // No command: the action installs the CLI (with its language hosts) and stops.
    expect(official.with).toEqual({ 'pulumi-version': pulumiVersion });
    expect(official.id).toBe('official-pulumi');
    // Where it cannot be installed the set-up goes on to the project's build.
    expect(official['continue-on-error']).toBe(true);
    // scripts/engine runs either way: it takes the pinned CLI found on PATH and says which host it is.
    expect(steps[engineAt].if).toBeUndefined();
  });

  it.each([
    { official: 'success', cacheHit: 'false', built: [] },
    { official: 'failure', cacheHit: 'true', built: ['actions/cache@v4'] },
    { official: 'failure', cacheHit: 'false', built: ['actions/cache@v4', 'actions/setup-go@v5'] },
  ])('set up the project\'s own engine build only where the official one cannot be installed (official install: $official, cache hit: $cacheHit)', ({ official, cacheHit, built }) => {
    // The step conditions are comparisons of step outputs joined by &&; evaluated here as GitHub would.
    const contexts: Record<string, string> = { 'steps.official-pulumi.outcome': official, 'steps.engine-cache.outputs.cache-hit': cacheHit };
    const runs = (condition: string | undefined): boolean => condition === undefined || condition.split(' && ').every((part) => {
      const m = /^([\w.-]+) (!=|==) '([^']*)'$/.exec(part.trim());
      if (!m || !(m[1] in contexts)) throw new Error(`not understood: ${part}`);
      return (contexts[m[1]] === m[3]) === (m[2] === '==');
    });
    const ran = setupAction.runs.steps.filter((s) => runs(s.if)).map((s) => s.uses ?? s.name);
    expect(ran.filter((u) => u === 'actions/cache@v4' || u === 'actions/setup-go@v5')).toEqual(built);
    expect(ran).toEqual(expect.arrayContaining([PULUMI_ACTION, 'Pulumi engine on PATH']));
    // The cache key covers what scripts/engine hashes, less the language host's tests.
    const cache = setupAction.runs.steps.find((s) => s.uses === 'actions/cache@v4')!;
    expect(cache.with?.key).toBe("pulumi-engine-${{ runner.os }}-${{ hashFiles('package-lock.json', 'engine/go.mod', 'engine/go.sum', 'engine/langhost/*.go', '!engine/langhost/*_test.go') }}");
  });

  it('have a timeout on every job (nothing hangs)', () => {
    for (const f of files) for (const job of Object.values(wf[f].jobs)) expect(job['timeout-minutes']).toBeGreaterThan(0);
  });

  it('have minimal permissions: per job where the jobs need different ones', () => {
    expect(wf['apply.yml'].permissions).toEqual({ contents: 'read' });
    expect(wf['apply.yml'].jobs.apply.permissions).toBeUndefined();
    expect(wf['apply.yml'].jobs.dispatch.permissions).toEqual({ actions: 'write' });
    expect(wf['preview.yml'].permissions).toEqual({});
    expect(wf['preview.yml'].jobs.scope.permissions).toEqual({ contents: 'read' });
    expect(wf['preview.yml'].jobs.preview.permissions).toEqual({ contents: 'read', 'pull-requests': 'write' });
    expect(wf['drift.yml'].permissions).toEqual({});
    expect(wf['drift.yml'].jobs.dispatch.permissions).toEqual({ actions: 'write' });
    expect(wf['drift.yml'].jobs.drift.permissions).toEqual({ contents: 'read', issues: 'write' });
  });

  it('check that the secrets are set, with a clear message, before using them', () => {
    for (const f of files) {
      const job = pulumiJob(f);
      const checkAt = job.steps.findIndex((s) => s.name === 'Check the secrets are set');
      expect(checkAt).toBeGreaterThan(0);
      expect(checkAt).toBeLessThan(job.steps.findIndex((s) => s.uses === PULUMI_ACTION));
      const check = job.steps[checkAt];
      for (const v of Object.values(check.env ?? {})) expect(SECRET_VALUE_REF.test(v)).toBe(false);
      for (const name of ['PULUMI_BACKEND_URL', 'PULUMI_CONFIG_PASSPHRASE', 'MENDER_ACCESS_TOKEN', 'MENDER_SERVER_URL']) {
        expect(check.run).toContain(`missing+=("${name}`);
      }
      expect(check.run).toMatch(/::error title=Missing secret::\$name is not set/);
    }
  });
});

describe('preview.yml', () => {
  const w = wf['preview.yml'];
  const job = pulumiJob('preview.yml');

  const scope = w.jobs.scope;

  it('runs on pull requests into the ring branches only, from the default branch\'s workflow (pull_request_target)', () => {
    expect(w.on).toEqual({ pull_request_target: { branches: RINGS } });
  });

  it('decides what the pull request changes in a job with no environment and no secret, with the ring branch\'s own script', () => {
    expect(scope.name).toBe('fleet-preview-scope');
    expect(scope.environment).toBeUndefined();
    expect(JSON.stringify(scope)).not.toMatch(/secrets\./);
    const checkout = scope.steps.find((s) => s.uses === 'actions/checkout@v4')!;
    expect(checkout.with).toEqual({ ref: '${{ github.base_ref }}', 'fetch-depth': 0 });
    // Nothing of the pull request is installed or run here: no set-up, no npm, no node.
    for (const s of scope.steps) {
      expect(s.uses === undefined || s.uses === 'actions/checkout@v4').toBe(true);
      expect(s.run ?? '').not.toMatch(/\b(npm|npx|node)\b/);
    }
    expect(scope.steps.map((s) => s.run).filter(Boolean).join('\n')).toContain('bash scripts/preview-scope "$RING" refs/remotes/pull/merge fleet >> "$GITHUB_OUTPUT"');
    expect(scope.outputs).toEqual({
      environment: '${{ steps.scope.outputs.environment }}',
      'fleet-only': '${{ steps.scope.outputs.fleet-only }}',
      code: '${{ steps.scope.outputs.code }}',
      fleet: '${{ steps.scope.outputs.fleet }}',
    });
  });

  it('runs the preview with the code and in the environment the scope chose; an unknown scope gets the review environment and fails', () => {
    expect(job.needs).toBe('scope');
    // Not skipped when the scope failed: a skipped required check counts as passed.
    expect(job.if).toBe('${{ !cancelled() }}');
    expect(job.environment).toEqual({ name: "${{ needs.scope.outputs.environment || format('{0}-review', github.base_ref) }}" });
    const stop = job.steps.find((s) => s.name === 'Stop when the scope is unknown')!;
    expect(stop.if).toBe("needs.scope.result != 'success'");
    expect(stop.run).toMatch(/exit 1\s*$/);
    const checkout = job.steps.find((s) => s.uses === 'actions/checkout@v4')!;
    expect(job.steps.indexOf(stop)).toBeLessThan(job.steps.indexOf(checkout));
    expect(checkout.with).toEqual({ ref: '${{ needs.scope.outputs.code }}' });
    const overlay = job.steps.find((s) => s.run?.includes('scripts/preview-overlay'))!;
    expect(overlay.if).toBe("needs.scope.outputs.fleet-only == 'true'");
    // The fleet is laid over before anything is installed or run.
    expect(job.steps.indexOf(overlay)).toBeGreaterThan(job.steps.indexOf(checkout));
    expect(job.steps.indexOf(overlay)).toBeLessThan(job.steps.findIndex((s) => s.uses === './.github/actions/setup-fleet'));
  });

  it('is the fleet-preview check, one run per pull request at a time', () => {
    expect(job.name).toBe('fleet-preview');
    expect(w.concurrency).toEqual({ group: 'preview-${{ github.event.pull_request.number }}', 'cancel-in-progress': true });
  });

  it.each(RINGS)('previews the stack of the target branch (%s)', (ring) => {
    const ctx = { github: { base_ref: ring, ref_name: '7/merge', head_ref: 'feature' } };
    const [step] = pulumiSteps(job);
    expect(step.with?.command).toBe('preview');
    expect(evaluate(String(step.with?.['stack-name']), ctx)).toBe(ring);
    expect(stackConfig(ring)['fleet:branch']).toBe(ring);
    expect(stackConfig(ring)['fleet:branch']).toBe(ring);
  });

  it('sends the raw preview to the job log and the job summary, not to the pull request', () => {
    const [step] = pulumiSteps(job);
    expect(pulumiSteps(job)).toHaveLength(1);
    expect(step.id).toBe('preview');
    expect(step.with?.['comment-on-pr']).toBe(false);
    expect(step.with?.['comment-on-pr-number']).toBeUndefined();
    expect(step.with?.['comment-on-summary']).toBe(true);
  });

  describe('the pull request comment', () => {
    const planStep = job.steps.find((s) => s.id === 'plan')!;
    const summaryStep = job.steps.find((s) => s.name === "Pulumi's summary line")!;
    const commentStep = job.steps.find((s) => s.uses === 'actions/github-script@v7')!;
    const rawPreview = [
      'Previewing update (production):',
      '    pulumi:pulumi:Stack fleet-production running',
      '  ~ mender:DeviceConfigurationSet pi4/kiosk.json update [diff: ~devices]',
      '    pulumi:pulumi:Stack fleet-production',
      'Outputs:',
      '  ~ devices: [secret]',
      '',
      'Resources:',
      '    ~ 1 to update',
      '    9 unchanged',
      '',
    ].join('\n');

    /** Runs a step's bash script as the runner would, with RUNNER_TEMP and the step's env. */
    const runStep = (step: Step, temp: string, env: Record<string, string>) =>
      spawnSync('bash', ['-e', '-c', step.run!], { env: { ...process.env, RUNNER_TEMP: temp, ...env }, encoding: 'utf8' });

    /** The comment step's script against a recording GitHub client. */
    async function comment(temp: string, existing: Dict[], outcome = 'success') {
      const calls: [string, Dict][] = [];
      const github = {
        rest: {
          issues: {
            listComments: 'listComments',
            updateComment: async (a: Dict) => { calls.push(['update', a]); },
            createComment: async (a: Dict) => { calls.push(['create', a]); },
          },
        },
        paginate: async (fn: unknown, a: Dict) => { calls.push([`list:${String(fn)}`, a]); return existing; },
      };
      const context = { repo: { owner: 'acme', repo: 'fleet' }, issue: { number: 7 }, serverUrl: 'https://github.com', runId: 5 };
      const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (...a: string[]) => (...v: unknown[]) => Promise<void>;
      const env = { RING: 'production', PREVIEW_OUTCOME: outcome, RUNNER_TEMP: temp };
      const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
      Object.assign(process.env, env);
      try {
        await new AsyncFunction('github', 'context', 'core', 'require', String(commentStep.with?.script))(github, context, {}, require);
      } finally {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
      return calls;
    }

    it('is the fleet plan of the target ring, made even when the preview failed', () => {
      expect(planStep.run).toBe('node bin/fleet.js plan --stack "$RING" --markdown > "$RUNNER_TEMP/fleet-plan.md"');
      expect(evaluate(planStep.env!.RING, { github: { base_ref: 'production' } })).toBe('production');
      expect(planStep.if).toBe("${{ !cancelled() && steps.preview.outcome != 'skipped' }}");
      expect(job.steps.indexOf(planStep)).toBeGreaterThan(job.steps.findIndex((s) => s.uses === PULUMI_ACTION));
      expect(commentStep.if).toBe("${{ !cancelled() && steps.plan.outcome == 'success' }}");
      expect(job.steps.indexOf(commentStep)).toBeGreaterThan(job.steps.indexOf(summaryStep));
      expect(summaryStep.env).toEqual({ PREVIEW_OUTPUT: '${{ steps.preview.outputs.output }}' });
    });

    it('carries the plan and Pulumi\'s summary line, not the raw preview, and is edited in place', async () => {
      const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'preview-comment-'));
      try {
        const plan = '### Fleet plan: ring `production`\n\n- images: 1,600 devices get a new image (5 of 5 images); 8,000 devices in the ring\n';
        fs.writeFileSync(path.join(temp, 'fleet-plan.md'), plan);
        const extracted = runStep(summaryStep, temp, { PREVIEW_OUTPUT: rawPreview });
        expect(extracted.status).toBe(0);
        expect(fs.readFileSync(path.join(temp, 'pulumi-summary.txt'), 'utf8')).toBe('Resources: ~ 1 to update 9 unchanged\n');

        const created = await comment(temp, [{ id: 1, body: '<!-- fleet-plan:canary -->\nthe canary plan' }]);
        expect(created.map(([k]) => k)).toEqual(['list:listComments', 'create']);
        const body = String(created[1][1].body);
        expect(created[1][1]).toMatchObject({ owner: 'acme', repo: 'fleet', issue_number: 7 });
        expect(body).toBe(
          [
            '<!-- fleet-plan:production -->',
            '**pulumi preview** of `production`: success — `Resources: ~ 1 to update 9 unchanged` ([raw preview in the job summary](https://github.com/acme/fleet/actions/runs/5))',
            '',
            plan,
          ].join('\n'),
        );
        expect(body).not.toContain('Previewing update');
        expect(body).not.toContain('mender:DeviceConfigurationSet');

        // The next push edits the same comment; the other ring's comment is left alone.
        const updated = await comment(temp, [{ id: 1, body: '<!-- fleet-plan:canary -->\n' }, { id: 2, body }], 'failure');
        expect(updated.map(([k, a]) => `${k}${a.comment_id ?? ''}`)).toEqual(['list:listComments', 'update2']);
        expect(String(updated[1][1].body)).toContain('**pulumi preview** of `production`: failure');

        // Without a summary line (the preview's output was too large to hand over) it points at the job summary.
        fs.rmSync(path.join(temp, 'pulumi-summary.txt'));
        const plain = await comment(temp, []);
        expect(String(plain[1][1].body)).toContain(': success — no summary line ([raw preview in the job summary]');
      } finally {
        fs.rmSync(temp, { recursive: true, force: true });
      }
    });
  });

  it('validates the fleet first, with the ring\'s fleet:lookupEnv, failing the job on a validation error', () => {
    const at = job.steps.findIndex((s) => s.run === 'node bin/fleet.js validate --fleet fleet --stack "$RING"' && s.env?.RING === '${{ github.base_ref }}');
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(job.steps.findIndex((s) => s.uses === PULUMI_ACTION));
    // Only the hand-over of Pulumi's summary line may fail without failing the check.
    expect(job.steps.filter((s) => s['continue-on-error'] !== undefined).map((s) => s.name)).toEqual(["Pulumi's summary line"]);
    for (const s of job.steps) if (s.run?.includes('fleet.js validate')) expect(s.if).toBeUndefined();
  });

  it('fails pull requests from forks first, with a clear message, before anything else runs', () => {
    const guard = job.steps[0];
    expect(guard.if).toBe('github.event.pull_request.head.repo.full_name != github.repository');
    expect(guard.run).toMatch(/::error title=Pull request from a fork::.*get no secrets/);
    expect(guard.run).toMatch(/exit 1\s*$/);
    expect(guard.env).toEqual({ HEAD_REPO: '${{ github.event.pull_request.head.repo.full_name }}', BASE_REPO: '${{ github.repository }}' });
    // The scope job refuses first too, before it fetches anything of the pull request.
    expect(scope.steps[0]).toEqual(guard);
  });

  it('the fork guard fails for a fork and only for a fork', () => {
    const guard = job.steps[0];
    const runGuard = (head: string): number => {
      const cond = guard.if!.replace('github.event.pull_request.head.repo.full_name', JSON.stringify(head)).replace('github.repository', JSON.stringify('acme/fleet'));
      const [l, r] = cond.split(' != ').map((s) => JSON.parse(s) as string);
      if (l === r) return 0; // step skipped
      return spawnSync('bash', ['-c', guard.run!], { env: { ...process.env, HEAD_REPO: head, BASE_REPO: 'acme/fleet' }, encoding: 'utf8' }).status ?? -1;
    };
    expect(runGuard('acme/fleet')).toBe(0);
    expect(runGuard('mallory/fleet')).toBe(1);
  });
});

describe('apply.yml', () => {
  const w = wf['apply.yml'];
  const job = pulumiJob('apply.yml');

  it('runs on pushes to the ring branches, and on a schedule that starts it on each ring branch', () => {
    expect(w.on).toEqual({ push: { branches: RINGS }, schedule: [{ cron: '*/15 * * * *' }], workflow_dispatch: null });
    const ringCheck = '${{ contains(fromJSON(\'["canary","production"]\'), github.ref_name) }}';
    expect(job.if).toBe(ringCheck);
    expect(w.jobs.dispatch.if).toBe(ringCheck.replace('${{ ', '${{ !'));
    expect(JSON.stringify(w.jobs.dispatch)).not.toMatch(/secrets\./);
    const calls = runWithStandIns(w.jobs.dispatch.steps[0].run!, { gh: 'echo "$*" >> "$CALLS"' }, { REPO: 'acme/fleet', GH_TOKEN: 'x' });
    expect(calls.status).toBe(0);
    expect(calls.calls).toBe(RINGS.map((ring) => `workflow run apply.yml --repo acme/fleet --ref ${ring}\n`).join(''));
  });

  describe('a scheduled run applies only while a rollout is under way or the head is not applied', () => {
    const decide = job.steps.find((s) => s.id === 'decide')!;
    // A stand-in pulumi: the stack tag and the rollouts output as the test sets them.
    const pulumi = 'case "$1 $2" in "stack tag") echo "$APPLIED";; "stack output") echo "$ROLLOUTS";; esac';
    const run = (env: Record<string, string>) => runWithStandIns(decide.run!, { pulumi }, { STACK: 'canary', GITHUB_SHA: 'abc123', ...env });

    it.each([
      ['push', 'abc123', '{"pi4-2026.11":"done"}', 'up=true'],
      ['schedule', 'abc123', '{"pi4-2026.11":"soaking"}', 'up=true'],
      ['schedule', 'abc123', '{"pi4-2026.11":"paused","pi3-2026.11":"done"}', 'up=true'],
      ['schedule', 'fff000', '{"pi4-2026.11":"done"}', 'up=true'],
      ['schedule', 'abc123', '{"pi4-2026.11":"done","pi3-2026.11":"rolled-back"}', 'up=false'],
      ['workflow_dispatch', 'abc123', '', 'up=false'],
    ])('%s, applied %s, rollouts %s: %s', (event, applied, rollouts, expected) => {
      const r = run({ EVENT: event, APPLIED: applied, ROLLOUTS: rollouts });
      expect(r.status).toBe(0);
      expect(r.output).toBe(`${expected}\n`);
      if (expected === 'up=false') expect(r.summary).toBe('nothing to do in canary: no rollout under way, and its head is applied\n');
      if (event === 'schedule' && rollouts.includes('soaking')) expect(r.summary).toBe('applying: a rollout is under way in canary: pi4-2026.11\n');
    });

    it('gates the up, the rollouts summary and the commit tag on the decision', () => {
      const [step] = pulumiSteps(job);
      expect(step.if).toBe("steps.decide.outputs.up == 'true'");
      expect(job.steps.indexOf(decide)).toBeLessThan(job.steps.indexOf(step));
      const summary = job.steps.find((s) => s.run?.includes('node bin/fleet.js status --stack "$STACK" --rollouts'))!;
      expect(summary.if).toBe("${{ always() && steps.decide.outputs.up == 'true' }}");
      expect(job.steps.indexOf(summary)).toBeGreaterThan(job.steps.indexOf(step));
    });
  });

  it.each(RINGS)('applies the stack of the pushed branch (%s), one apply per stack at a time, never cancelled', (ring) => {
    const ctx = { github: { ref_name: ring, sha: 'abc123', run_id: '1', actor: 'alice' } };
    expect(w.concurrency?.['cancel-in-progress']).toBe(false);
    expect(evaluate(w.concurrency!.group, ctx)).toBe(`pulumi-${ring}`);
    // The job also holds the ring's stack group, shared with the drift check.
    expect(evaluate(job.concurrency!.group, ctx)).toBe(`stack-${ring}`);
    expect(evaluate(pulumiJob('drift.yml').concurrency!.group, { github: { ref_name: ring } })).toBe(`stack-${ring}`);
    expect(job.concurrency?.['cancel-in-progress']).toBe(false);
    const [step] = pulumiSteps(job);
    expect(step.with?.command).toBe('up');
    expect(evaluate(String(step.with?.['stack-name']), ctx)).toBe(ring);
    expect(stackConfig(ring)['fleet:branch']).toBe(ring);
    expect(evaluate(String(job.environment), ctx)).toBe(ring);
  });

  it('records the commit: in the update message and as the stack tag git:commit', () => {
    const [step] = pulumiSteps(job);
    expect(evaluate(String(step.with?.message), { github: { ref_name: 'canary', sha: 'abc123', run_id: '9', actor: 'alice' } }))
      .toBe('apply abc123 to canary (run 9, by alice)');
    const tagAt = job.steps.findIndex((s) => s.run?.includes('pulumi stack tag set git:commit "$GITHUB_SHA" --stack "$STACK"'));
    expect(tagAt).toBeGreaterThan(job.steps.indexOf(step));
    expect(job.steps[tagAt].env?.STACK).toBe('${{ github.ref_name }}');
    expect(job.steps[tagAt].if).toBe("steps.decide.outputs.up == 'true'"); // only after a successful up
  });

  it('validates the fleet before applying, with the ring\'s fleet:lookupEnv', () => {
    const at = job.steps.findIndex((s) => s.run === 'node bin/fleet.js validate --fleet fleet --stack "$RING"' && s.env?.RING === '${{ github.ref_name }}');
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThan(job.steps.findIndex((s) => s.uses === PULUMI_ACTION));
  });
});

describe('drift.yml', () => {
  const w = wf['drift.yml'];
  const job = pulumiJob('drift.yml');

  it('runs on a schedule and on demand', () => {
    expect(Object.keys(w.on).sort()).toEqual(['schedule', 'workflow_dispatch']);
    const schedule = w.on.schedule as { cron: string }[];
    expect(schedule).toHaveLength(1);
    expect(schedule[0].cron.split(' ')).toHaveLength(5);
  });

  it('checks every ring stack, each in a run on its own branch (the ring environments are released only there)', () => {
    const dispatch = w.jobs.dispatch;
    const ringCheck = '${{ contains(fromJSON(\'["canary","production"]\'), github.ref_name) }}';
    expect(job.if).toBe(ringCheck);
    expect(dispatch.if).toBe(ringCheck.replace('${{ ', '${{ !'));
    expect(JSON.parse(/fromJSON\('([^']*)'\)/.exec(ringCheck)![1])).toEqual(RINGS);
    expect(JSON.stringify(dispatch)).not.toMatch(/secrets\./);
    expect(dispatch.environment).toBeUndefined();
    expect(dispatch.steps[0].run).toMatch(/for ring in canary production; do\n\s*gh workflow run drift.yml --repo "\$REPO" --ref "\$ring"/);
    expect(dispatch.steps[0].env).toEqual({ GH_TOKEN: '${{ github.token }}', REPO: '${{ github.repository }}' });
    for (const ring of RINGS) {
      const ctx = { github: { ref_name: ring } };
      const [step] = pulumiSteps(job);
      expect(evaluate(String(step.with?.['stack-name']), ctx)).toBe(ring);
      // The run's own ref is the ring branch: the default checkout is its head.
      const checkout = job.steps.find((s) => s.uses === 'actions/checkout@v4')!;
      expect(checkout.with).toBeUndefined();
      expect(job.environment).toEqual({ name: '${{ github.ref_name }}', deployment: false });
      expect(evaluate((job.environment as { name: string }).name, ctx)).toBe(ring);
      // Not the apply workflow's group, where merges queue (a drift check must not displace a
      // queued apply), but the group of the ring's stack that the apply job holds too.
      expect(evaluate(job.concurrency!.group, ctx)).toBe(`stack-${ring}`);
      expect(evaluate(job.concurrency!.group, ctx)).not.toBe(evaluate(wf['apply.yml'].concurrency!.group, ctx));
    }
    expect(job.concurrency?.['cancel-in-progress']).toBe(false);
  });

  it('the dispatch starts one run per ring on the ring\'s branch', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-wf-dispatch-'));
    try {
      // A stand-in `gh` on PATH that records its arguments.
      fs.writeFileSync(path.join(dir, 'gh'), '#!/usr/bin/env bash\necho "$*" >> "$GH_CALLS"\n', { mode: 0o755 });
      const calls = path.join(dir, 'calls');
      const summary = path.join(dir, 'summary');
      const r = spawnSync('bash', ['-e', '-c', w.jobs.dispatch.steps[0].run!], {
        env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, GH_CALLS: calls, GITHUB_STEP_SUMMARY: summary, REPO: 'acme/fleet', GH_TOKEN: 'x' },
        encoding: 'utf8',
      });
      expect(r.status).toBe(0);
      expect(fs.readFileSync(calls, 'utf8')).toBe(RINGS.map((ring) => `workflow run drift.yml --repo acme/fleet --ref ${ring}\n`).join(''));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('does not take a rollout under way for drift: the check waits until it is done', () => {
    const check = job.steps.find((s) => s.id === 'rollout')!;
    const [step] = pulumiSteps(job);
    expect(step.if).toBe("steps.rollout.outputs.under_way != 'true'");
    expect(job.steps.indexOf(check)).toBeLessThan(job.steps.indexOf(step));
    const pulumi = 'echo "$ROLLOUTS"';
    const underWay = runWithStandIns(check.run!, { pulumi }, { STACK: 'canary', ROLLOUTS: '{"pi4-2026.11":"waiting"}' });
    expect(underWay.output).toBe('under_way=true\n');
    expect(underWay.summary).toContain('not checked for drift: a rollout is under way in canary (pi4-2026.11)');
    for (const rollouts of ['{"pi4-2026.11":"done"}', '{}', '']) expect(runWithStandIns(check.run!, { pulumi }, { STACK: 'canary', ROLLOUTS: rollouts }).output).toBe('under_way=false\n');
  });

  it('looks for drift read-only: a refreshing preview expecting no changes', () => {
    const [step] = pulumiSteps(job);
    expect(step.with).toMatchObject({ command: 'preview', refresh: true, 'expect-no-changes': true });
    expect(step.id).toBe('drift');
    expect(step['continue-on-error']).toBe(true); // so the issue step runs; the job fails later
  });

  it('opens or updates one issue per stack, labelled fleet-drift, and fails on drift', () => {
    const report = job.steps.find((s) => s.uses === 'actions/github-script@v7')!;
    expect(report.if).toBe("steps.rollout.outputs.under_way != 'true'");
    expect(report.env).toEqual({ STACK: '${{ github.ref_name }}', OUTCOME: '${{ steps.drift.outcome }}' });
    const script = String(report.with?.script);
    expect(script).not.toMatch(/\$\{\{/); // no expression injected into the script
    expect(script).toContain("const label = 'fleet-drift';");
    expect(script).toContain('const title = `Fleet drift on stack ${stack}`;');
    expect(script).toMatch(/listForRepo, \{\s*\.\.\.context\.repo, state: 'open', labels: label/);
    expect(script).toMatch(/issues\.update\(\{ \.\.\.context\.repo, issue_number: existing\.number, body \}\)/);
    expect(script).toMatch(/issues\.create\(\{ \.\.\.context\.repo, title, body, labels: \[label\] \}\)/);
    const fail = job.steps[job.steps.length - 1];
    expect(fail.if).toBe("steps.rollout.outputs.under_way != 'true' && steps.drift.outcome != 'success'");
    expect(fail.run).toMatch(/::error title=Fleet drift::[^\n]*\n\s*exit 1/);
    expect(job.steps.indexOf(fail)).toBeGreaterThan(job.steps.indexOf(report));
  });

  it('the issue script picks the issue of its stack, updates it, creates one, or closes it', async () => {
    const report = job.steps.find((s) => s.uses === 'actions/github-script@v7')!;
    const run = async (outcome: string, open: Dict[]) => {
      const calls: [string, Dict][] = [];
      const rest = {
        issues: {
          listForRepo: 'listForRepo',
          update: async (a: Dict) => { calls.push(['update', a]); },
          create: async (a: Dict) => { calls.push(['create', a]); return { data: { number: 99 } }; },
          createComment: async (a: Dict) => { calls.push(['comment', a]); },
        },
      };
      const github = { rest, paginate: async (_fn: unknown, a: Dict) => { calls.push(['list', a]); return open; } };
      const context = { repo: { owner: 'acme', repo: 'fleet' }, serverUrl: 'https://github.com', runId: 5 };
      const core = { notice: () => undefined };
      const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (...a: string[]) => (...v: unknown[]) => Promise<void>;
      const saved = { STACK: process.env.STACK, OUTCOME: process.env.OUTCOME };
      process.env.STACK = 'production';
      process.env.OUTCOME = outcome;
      try {
        await new AsyncFunction('github', 'context', 'core', String(report.with?.script))(github, context, core);
      } finally {
        process.env.STACK = saved.STACK;
        process.env.OUTCOME = saved.OUTCOME;
      }
      return calls;
    };
    const other = { number: 1, title: 'Fleet drift on stack canary' };
    const mine = { number: 2, title: 'Fleet drift on stack production' };
    const created = await run('failure', [other]);
    expect(created.map(([k]) => k)).toEqual(['list', 'create']);
    expect(created[1][1]).toMatchObject({ owner: 'acme', repo: 'fleet', title: 'Fleet drift on stack production', labels: ['fleet-drift'] });
    expect(String(created[1][1].body)).toContain('https://github.com/acme/fleet/actions/runs/5');
    const updated = await run('failure', [other, mine]);
    expect(updated.map(([k, a]) => `${k}${a.issue_number ?? ''}`)).toEqual(['list', 'update2']);
    const closed = await run('success', [mine]);
    expect(closed.map(([k, a]) => `${k}${a.issue_number ?? ''}${k === 'update' ? a.state : ''}`)).toEqual(['list', 'comment2', 'update2closed']);
    expect(await run('success', [other])).toHaveLength(1);
  });
});

describe('recovery before the Pulumi step (apply.yml, drift.yml)', () => {
  const ringOf: Record<string, (ring: string) => Dict> = {
    'apply.yml': (ring) => ({ github: { ref_name: ring } }),
    'drift.yml': (ring) => ({ github: { ref_name: ring } }),
  };
  const recoverStep = (file: string): Step => {
    const steps = pulumiJob(file).steps.filter((s) => s.run?.includes('node bin/fleet.js recover --stack "$STACK"'));
    expect(steps).toHaveLength(1);
    return steps[0];
  };

  it.each(Object.keys(ringOf))('%s runs `fleet recover` of its ring right before the Pulumi step, into the job summary, failing the job on a refusal', (file) => {
    const job = pulumiJob(file);
    const step = recoverStep(file);
    const [pulumiStep] = pulumiSteps(job);
    expect(job.steps.indexOf(step)).toBe(job.steps.indexOf(pulumiStep) - 1);
    for (const ring of RINGS) expect(evaluate(String(step.env?.STACK), ringOf[file](ring))).toBe(ring);
    expect(step['continue-on-error']).toBeUndefined();
    expect(step.if).toBeUndefined();
    expect(step.run).toMatch(/set -o pipefail/);
    expect(step.run).toMatch(/\| tee -a "\$GITHUB_STEP_SUMMARY"/);
    // The same backend and passphrase as the Pulumi step; no Mender secret (recover never calls Mender).
    for (const name of ['PULUMI_BACKEND_URL', 'PULUMI_ACCESS_TOKEN', 'PULUMI_CONFIG_PASSPHRASE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) expect(step.env?.[name]).toBe(pulumiStep.env?.[name]);
    expect(Object.keys(step.env ?? {}).filter((k) => k.startsWith('MENDER_'))).toEqual([]);
  });

  /** Runs the step's own script with bash, as the runner would, against a file backend. */
  function runRecoverStep(file: string, backendDir: string, stack: string, runner: NodeJS.ProcessEnv = {}): { code: number; summary: string; stdout: string } {
    const summary = path.join(backendDir, 'summary.md');
    fs.writeFileSync(summary, '');
    const r = spawnSync('bash', ['-e', '-c', recoverStep(file).run!], {
      cwd: repo,
      encoding: 'utf8',
      env: { ...process.env, RUNNER_ENVIRONMENT: undefined, STACK: stack, PULUMI_BACKEND_URL: `file://${backendDir}`, PULUMI_CONFIG_PASSPHRASE: 'workflow-test', PULUMI_HOME: path.join(backendDir, '.home'), PULUMI_SKIP_UPDATE_CHECK: 'true', GITHUB_STEP_SUMMARY: summary, ...runner },
    });
    return { code: r.status ?? 1, summary: fs.readFileSync(summary, 'utf8'), stdout: r.stdout };
  }

  it.each(Object.keys(ringOf))("%s: the step's script reports into the summary, and fails when recover refuses a live update", (file) => {
    const backendDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-wf-recover-'));
    try {
      const clean = runRecoverStep(file, backendDir, 'canary');
      expect(clean.code).toBe(0);
      expect(clean.summary).toBe('### fleet recover canary\n```\nrecover: canary: no such stack yet on file://' + backendDir + ': nothing to recover\n```\n');
      // A lock of this host whose process lives (this test's): the update may be alive.
      const locks = path.join(backendDir, '.pulumi', 'locks', 'organization', 'fleet', 'canary');
      fs.mkdirSync(locks, { recursive: true });
      fs.writeFileSync(path.join(locks, 'a.json'), JSON.stringify({ pid: process.pid, username: 'runner', hostname: os.hostname(), timestamp: new Date().toISOString() }));
      const refused = runRecoverStep(file, backendDir, 'canary');
      expect(refused.code).toBe(2);
      expect(refused.summary).toContain(`recover: canary: refused: update ${process.pid}@${os.hostname()}`);
      expect(refused.summary.endsWith('```\n')).toBe(true);
      expect(fs.existsSync(path.join(locks, 'a.json'))).toBe(true);
    } finally {
      fs.rmSync(backendDir, { recursive: true, force: true });
    }
  });

  it.each(Object.keys(ringOf))("%s: a fresh lock of another runner is stale at once on a GitHub-hosted runner, and waits for --min-age on a self-hosted one", (file) => {
    const backendDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-wf-recover-'));
    try {
      const locks = path.join(backendDir, '.pulumi', 'locks', 'organization', 'fleet', 'canary');
      fs.mkdirSync(locks, { recursive: true });
      const lock = path.join(locks, 'b.json');
      const takenAt = new Date(Date.now() - 30_000).toISOString();
      // The killed job's runner: another VM, named as GitHub names its hosted runners.
      fs.writeFileSync(lock, JSON.stringify({ pid: 2127, username: 'runner', hostname: 'fv-az714-223', timestamp: takenAt }));

      const selfHosted = runRecoverStep(file, backendDir, 'canary', { RUNNER_ENVIRONMENT: 'self-hosted' });
      expect(selfHosted.code).toBe(2);
      expect(selfHosted.summary).toMatch(/recover: canary: refused: update 2127@fv-az714-223 .* may still run: the lock is \d+ s old, younger than --min-age 5400 s/);
      expect(fs.existsSync(lock)).toBe(true);

      const hosted = runRecoverStep(file, backendDir, 'canary', { RUNNER_ENVIRONMENT: 'github-hosted' });
      expect(hosted.summary).toContain(`recover: canary: removed the lock .pulumi/locks/organization/fleet/canary/b.json of the dead update 2127@fv-az714-223 (lock taken ${takenAt}), its host gone (--other-hosts-gone)\n`);
      expect(fs.existsSync(lock)).toBe(false);
      expect(hosted.code).toBe(0);
    } finally {
      fs.rmSync(backendDir, { recursive: true, force: true });
    }
  });
});

describe('secrets', () => {
  const all = [...Object.values(raw), fs.readFileSync(setupActionPath, 'utf8')].join('\n');

  it('are only the allowed ones, by name', () => {
    const used = new Set([...all.matchAll(SECRET_REF)].map((m) => m[1]));
    for (const name of used) expect(ALLOWED_SECRETS).toContain(name);
    for (const name of ['MENDER_ACCESS_TOKEN', 'PULUMI_CONFIG_PASSPHRASE', 'PULUMI_BACKEND_URL']) expect(used).toContain(name);
    expect(all).not.toMatch(/toJSON\(\s*secrets\s*\)|secrets\[/);
  });

  it('never reach the shared set-up action (npm ci runs third-party install scripts)', () => {
    expect(fs.readFileSync(setupActionPath, 'utf8')).not.toMatch(/secrets\./);
    for (const f of files) {
      expect(JSON.stringify(wf[f].env ?? {})).not.toMatch(/secrets\./);
      for (const job of Object.values(wf[f].jobs)) {
        expect(JSON.stringify(job.env ?? {})).not.toMatch(/secrets\./);
        for (const s of job.steps) {
          if (s.uses === './.github/actions/setup-fleet' || s.run?.includes('npm')) expect(JSON.stringify(s)).not.toMatch(/secrets\./);
        }
      }
    }
  });

  it('are given to the Pulumi steps through their env', () => {
    for (const f of files) {
      for (const s of pulumiSteps(pulumiJob(f))) {
        expect(s.env).toMatchObject({
          PULUMI_CONFIG_PASSPHRASE: '${{ secrets.PULUMI_CONFIG_PASSPHRASE }}',
          MENDER_ACCESS_TOKEN: '${{ secrets.MENDER_ACCESS_TOKEN }}',
          PULUMI_BACKEND_URL: '${{ secrets.PULUMI_BACKEND_URL || vars.PULUMI_BACKEND_URL }}',
          MENDER_SERVER_URL: '${{ vars.MENDER_SERVER_URL || secrets.MENDER_SERVER_URL }}',
        });
      }
    }
  });

  it('are never printed by a run step', () => {
    const steps = runSteps();
    expect(steps.length).toBeGreaterThanOrEqual(8);
    for (const step of steps) expect({ where: step.where, findings: secretLeaks(step) }).toEqual({ where: step.where, findings: [] });
  });

  it('the printing check catches leaks (it is not vacuous)', () => {
    const env = { TOKEN: '${{ secrets.MENDER_ACCESS_TOKEN }}', HAS: "${{ secrets.MENDER_ACCESS_TOKEN != '' }}" };
    const leaks = (run: string, e: Record<string, string> = env) => secretLeaks({ where: 't', run, env: e });
    expect(leaks('echo "$TOKEN"')).toHaveLength(1);
    expect(leaks('printf %s ${TOKEN} | base64')).toHaveLength(1);
    expect(leaks('echo $MENDER_ACCESS_TOKEN', {})).toHaveLength(1);
    expect(leaks('echo "t=$PULUMI_CONFIG_PASSPHRASE" >> "$GITHUB_OUTPUT"', {})).toHaveLength(1);
    expect(leaks('echo "${{ secrets.MENDER_ACCESS_TOKEN }}"')).toContain('a secret expanded into the script (pass it through env)');
    expect(leaks('set -x\npulumi up')).toEqual(['tracing (set -x) with secrets in the environment']);
    expect(leaks('set -euxo pipefail')).toEqual(['tracing (set -x) with secrets in the environment']);
    expect(leaks('printenv')).toEqual(['dumps the environment']);
    expect(leaks('env | sort')).toEqual(['dumps the environment']);
    // Not leaks: a boolean derived from a secret, a test of emptiness, tracing without secrets.
    expect(leaks('echo "$HAS"')).toEqual([]);
    expect(leaks('[ -n "$TOKEN" ] || exit 1')).toEqual([]);
    expect(leaks('set -x', { HAS: env.HAS })).toEqual([]);
  });

  it('run scripts are valid bash', () => {
    for (const step of runSteps()) {
      const script = step.run.replace(/\$\{\{[^}]*\}\}/g, 'X');
      const r = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
      expect({ where: step.where, stderr: r.stderr }).toEqual({ where: step.where, stderr: '' });
    }
  });
});
