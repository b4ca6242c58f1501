// Repository governance (governance/governance.ts) against Pulumi's mocks: the GitHub provider
// plugin cannot be installed on these machines (no internet), so no resource reaches GitHub;
// the mocks record what the program declares and the tests assert on every setting.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { parse } from 'yaml';

interface Registered {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

const registered: Registered[] = [];
const invokes: { token: string; inputs: Record<string, unknown> }[] = [];
const REPO_NODE_ID = 'R_kgDOfleet';

pulumi.runtime.setMocks({
  newResource(args) {
    registered.push({ type: args.type, name: args.name, inputs: args.inputs });
    return { id: `${args.name}-id`, state: args.inputs };
  },
  call(args) {
    invokes.push({ token: args.token, inputs: args.inputs });
    if (args.token === 'github:index/getRepository:getRepository') {
      return { name: args.inputs.name, fullName: `acme/${args.inputs.name}`, nodeId: REPO_NODE_ID, repoId: 42 };
    }
    return args.inputs;
  },
}, 'fleet-governance', 'github', false);

// eslint-disable-next-line @typescript-eslint/no-require-imports
const gov = require('../../governance/governance') as typeof import('../../governance/governance');

const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270'; // @pulumi/pulumi's specialSecretSig
const repoRoot = path.join(__dirname, '..', '..');

function value<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => { resolve(v); return v; }));
}

/** Lets the mock monitor receive every registration started so far. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 50));
}

function byName(name: string): Registered {
  const found = registered.filter((r) => r.name === name);
  expect(found).toHaveLength(1);
  return found[0];
}

function unwrapSecret(v: unknown): { secret: boolean; value: unknown } {
  if (v && typeof v === 'object' && (v as Record<string, unknown>)['4dabf18193072939515e22adb298388d'] === SECRET_SIG) {
    return { secret: true, value: (v as Record<string, unknown>).value };
  }
  return { secret: false, value: v };
}

const ringSecrets = {
  canary: { menderAccessToken: pulumi.secret('canary-token'), pulumiConfigPassphrase: pulumi.secret('canary-pass'), menderServerUrl: 'https://mender.example.com' },
  // A caller passing plain strings still gets secrets: the program wraps every value.
  production: { menderAccessToken: 'production-token', pulumiConfigPassphrase: 'production-pass' },
};

describe('declareGovernance', () => {
  let g: ReturnType<typeof gov.declareGovernance>;

  beforeAll(async () => {
    registered.length = 0;
    g = gov.declareGovernance({ repository: 'fleet', rings: ringSecrets, previewReviewers: { users: [101], teams: [202] } });
    await value(pulumi.all(g.protections.map((p) => p.resource.urn)));
    await value(pulumi.all(g.secrets.map((s) => s.urn)));
    await settle();
  });

  it('looks the repository up by name for its node ID', async () => {
    expect(invokes).toContainEqual(expect.objectContaining({ token: 'github:index/getRepository:getRepository', inputs: expect.objectContaining({ name: 'fleet' }) }));
    expect(await value(g.protections[0].resource.repositoryId)).toBe(REPO_NODE_ID);
  });

  it('makes develop the working (default) branch, created from main', () => {
    const develop = byName('branch-develop');
    expect(develop.type).toBe('github:index/branch:Branch');
    expect(develop.inputs).toMatchObject({ repository: 'fleet', branch: 'develop', sourceBranch: 'main' });
    const def = byName('default-branch');
    expect(def.type).toBe('github:index/branchDefault:BranchDefault');
    expect(def.inputs).toMatchObject({ repository: 'fleet', branch: 'develop' });
  });

  it('creates each ring branch from develop', () => {
    for (const ring of ['canary', 'production']) {
      expect(byName(`branch-${ring}`).inputs).toMatchObject({ repository: 'fleet', branch: ring, sourceBranch: 'develop' });
    }
  });

  it('protects the ring branches and the working branch', () => {
    const protections = registered.filter((r) => r.type === 'github:index/branchProtection:BranchProtection');
    expect(protections.map((p) => p.inputs.pattern).sort()).toEqual(['canary', 'develop', 'production']);
    expect(g.protections.map((p) => p.pattern)).toEqual(['develop', 'canary', 'production']);
  });

  it('develop: GitHub runs the preview workflow from it, so it changes only by a pull request with one approval', () => {
    const p = byName('protect-develop').inputs;
    expect(p).toMatchObject({ repositoryId: REPO_NODE_ID, enforceAdmins: true, allowsForcePushes: false, allowsDeletions: false });
    expect(p.requiredPullRequestReviews).toEqual([{ requiredApprovingReviewCount: 1, dismissStaleReviews: true, requireLastPushApproval: true }]);
    // Nothing previews a merge into develop: no required check there.
    expect(p.requiredStatusChecks).toBeUndefined();
  });

  it.each(['canary', 'production'])('%s: admins included, no force pushes, no deletions, not locked, conversations resolved', (ring) => {
    const p = byName(`protect-${ring}`).inputs;
    expect(p.repositoryId).toBe(REPO_NODE_ID);
    expect(p.enforceAdmins).toBe(true);
    expect(p.allowsForcePushes).toBe(false);
    expect(p.allowsDeletions).toBe(false);
    expect(p.lockBranch).toBe(false);
    expect(p.requireConversationResolution).toBe(true);
  });

  it.each(['canary', 'production'])('%s: the preview check is required on an up-to-date branch', (ring) => {
    const p = byName(`protect-${ring}`).inputs;
    expect(p.requiredStatusChecks).toEqual([{ strict: true, contexts: [gov.PREVIEW_CHECK] }]);
  });

  it('canary: a pull request is required (no direct pushes), no approval', () => {
    expect(byName('protect-canary').inputs.requiredPullRequestReviews).toEqual([
      { requiredApprovingReviewCount: 0, dismissStaleReviews: true, requireLastPushApproval: false },
    ]);
  });

  it('production: a pull request with one approving review, stale approvals dismissed, the last push approved', () => {
    expect(byName('protect-production').inputs.requiredPullRequestReviews).toEqual([
      { requiredApprovingReviewCount: 1, dismissStaleReviews: true, requireLastPushApproval: true },
    ]);
  });

  it('without mergers, pushes are not restricted beyond the required pull request', () => {
    for (const ring of ['canary', 'production']) {
      expect(byName(`protect-${ring}`).inputs.restrictPushes ?? []).toEqual([]);
    }
  });

  it('declares three Actions environments per ring, admins not bypassing, each limited to one branch', () => {
    const envs = registered.filter((r) => r.type === 'github:index/repositoryEnvironment:RepositoryEnvironment');
    expect(envs.map((e) => e.inputs.environment).sort()).toEqual(['canary', 'canary-preview', 'canary-review', 'production', 'production-preview', 'production-review']);
    for (const e of envs) {
      expect(e.inputs).toMatchObject({ repository: 'fleet', canAdminsBypass: false, deploymentBranchPolicy: { protectedBranches: false, customBranchPolicies: true } });
    }
    const policies = registered.filter((r) => r.type === 'github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy');
    expect(policies.map((p) => `${p.inputs.environment}<-${p.inputs.branchPattern}`).sort()).toEqual([
      'canary-preview<-develop', 'canary-review<-develop', 'canary<-canary',
      'production-preview<-develop', 'production-review<-develop', 'production<-production',
    ]);
    for (const p of policies) expect(p.inputs.tagPattern).toBeUndefined();
  });

  it.each(['canary', 'production'])('%s: the ring environment releases its secrets only to jobs on its own branch (apply, drift), not to a pull request\'s', (ring) => {
    const env = byName(`environment-${ring}`).inputs;
    expect(env.reviewers).toBeUndefined();
    expect(byName(`environment-${ring}-branch`).inputs).toEqual({ repository: 'fleet', environment: ring, branchPattern: ring });
    // A `pull_request` job runs on refs/pull/<n>/merge and a pull_request_target job on the
    // default branch: neither matches the pattern, so neither gets the ring's secrets.
    expect(gov.ringEnvironments(ring).deploy).toBe(ring);
  });

  it.each(['canary', 'production'])('%s-review: a code change is previewed only after a reviewer (not its author) approves the job', (ring) => {
    const env = byName(`environment-${ring}-review`).inputs;
    expect(env.reviewers).toEqual([{ users: [101], teams: [202] }]);
    expect(env.preventSelfReview).toBe(true);
    const preview = byName(`environment-${ring}-preview`).inputs;
    expect(preview.reviewers).toBeUndefined();
    expect(gov.ringEnvironments(ring)).toEqual({ deploy: ring, preview: `${ring}-preview`, review: `${ring}-review` });
  });

  it('puts MENDER_ACCESS_TOKEN and PULUMI_CONFIG_PASSPHRASE in each environment, as secrets', async () => {
    const secrets = registered.filter((r) => r.type === 'github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret');
    const seen = secrets.map((s) => {
      const v = unwrapSecret(s.inputs.value);
      expect(v.secret).toBe(true);
      expect(s.inputs.plaintextValue).toBeUndefined();
      return `${s.inputs.environment}/${s.inputs.secretName}=${v.value}`;
    }).sort();
    expect(seen).toEqual([
      'canary-preview/MENDER_ACCESS_TOKEN=canary-token',
      'canary-preview/PULUMI_CONFIG_PASSPHRASE=canary-pass',
      'canary-review/MENDER_ACCESS_TOKEN=canary-token',
      'canary-review/PULUMI_CONFIG_PASSPHRASE=canary-pass',
      'canary/MENDER_ACCESS_TOKEN=canary-token',
      'canary/PULUMI_CONFIG_PASSPHRASE=canary-pass',
      'production-preview/MENDER_ACCESS_TOKEN=production-token',
      'production-preview/PULUMI_CONFIG_PASSPHRASE=production-pass',
      'production-review/MENDER_ACCESS_TOKEN=production-token',
      'production-review/PULUMI_CONFIG_PASSPHRASE=production-pass',
      'production/MENDER_ACCESS_TOKEN=production-token',
      'production/PULUMI_CONFIG_PASSPHRASE=production-pass',
    ]);
    // The ring environment's resources keep their names (and so their URNs) from before the preview environments.
    expect(byName('canary-mender_access_token').inputs.environment).toBe('canary');
    for (const s of g.secrets) {
      expect(await pulumi.isSecret(s.value)).toBe(true);
    }
  });

  it('sets MENDER_SERVER_URL as a plain environment variable where configured', () => {
    const vars = registered.filter((r) => r.type === 'github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable');
    expect(vars.map((v) => v.inputs).sort((a, b) => String(a.environment).localeCompare(String(b.environment)))).toEqual(['canary', 'canary-preview', 'canary-review'].map((environment) => (
      { repository: 'fleet', environment, variableName: 'MENDER_SERVER_URL', value: 'https://mender.example.com' }
    )));
  });

  it('declares the label of the drift issues', () => {
    expect(byName('label-fleet-drift').inputs).toMatchObject({ repository: 'fleet', name: gov.DRIFT_LABEL });
  });

  it('declares nothing else', () => {
    expect(registered.map((r) => r.type).sort()).toEqual([
      ...Array(12).fill('github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret'),
      ...Array(3).fill('github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable'),
      ...Array(3).fill('github:index/branch:Branch'),
      'github:index/branchDefault:BranchDefault',
      ...Array(3).fill('github:index/branchProtection:BranchProtection'),
      'github:index/issueLabel:IssueLabel',
      ...Array(6).fill('github:index/repositoryEnvironment:RepositoryEnvironment'),
      ...Array(6).fill('github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy'),
    ]);
  });
});

describe('declareGovernance options', () => {
  it('restricts pushes (merges included) to the mergers when given, and honours the approvals per ring', async () => {
    registered.length = 0;
    const g = gov.declareGovernance({
      repository: 'fleet2',
      workingBranch: 'dev',
      sourceBranch: 'trunk',
      rings: { production: { menderAccessToken: pulumi.secret('t'), pulumiConfigPassphrase: pulumi.secret('p'), pulumiBackendUrl: pulumi.secret('s3://state') } },
      requiredApprovals: { production: 2, dev: 0 },
      mergers: ['/acme/fleet-maintainers'],
      previewReviewers: { teams: [7] },
    });
    await value(pulumi.all([...g.protections.map((p) => p.resource.urn), ...g.secrets.map((s) => s.urn)]));
    await settle();
    const p = byName('protect-production').inputs;
    expect(p.restrictPushes).toEqual([{ blocksCreations: true, pushAllowances: ['/acme/fleet-maintainers'] }]);
    expect(p.requiredPullRequestReviews).toEqual([{ requiredApprovingReviewCount: 2, dismissStaleReviews: true, requireLastPushApproval: true }]);
    expect(byName('branch-dev').inputs).toMatchObject({ branch: 'dev', sourceBranch: 'trunk' });
    expect(byName('branch-production').inputs).toMatchObject({ sourceBranch: 'dev' });
    expect(byName('protect-dev').inputs.requiredPullRequestReviews).toEqual([{ requiredApprovingReviewCount: 0, dismissStaleReviews: true, requireLastPushApproval: false }]);
    expect(byName('protect-dev').inputs.restrictPushes).toEqual([{ blocksCreations: true, pushAllowances: ['/acme/fleet-maintainers'] }]);
    // The previews are released on the working branch, whatever it is called.
    expect(byName('environment-production-review-branch').inputs.branchPattern).toBe('dev');
    expect(byName('environment-production-review').inputs.reviewers).toEqual([{ users: [], teams: [7] }]);
    // The backend URL reaches the preview environments too (a preview reads the state).
    expect(unwrapSecret(byName('production-preview-pulumi_backend_url').inputs.value)).toEqual({ secret: true, value: 's3://state' });
    const backend = byName('production-pulumi_backend_url').inputs;
    expect(backend.secretName).toBe('PULUMI_BACKEND_URL');
    expect(unwrapSecret(backend.value)).toEqual({ secret: true, value: 's3://state' });
  });

  it('refuses bad arguments', () => {
    const s = { menderAccessToken: 't', pulumiConfigPassphrase: 'p' };
    const previewReviewers = { users: [1] };
    expect(() => gov.declareGovernance({ repository: 'r', rings: {}, previewReviewers })).toThrow(/no ring/);
    expect(() => gov.declareGovernance({ repository: 'r', rings: { develop: s }, previewReviewers })).toThrow(/working branch develop cannot be a ring/);
    expect(() => gov.declareGovernance({ repository: 'r', rings: { production: s }, requiredApprovals: { production: 1.5 }, previewReviewers })).toThrow(/requiredApprovals.production/);
    expect(() => gov.declareGovernance({ repository: 'r', rings: { production: s }, previewReviewers: {} })).toThrow(
      'governance: previewReviewers needs at least one GitHub user or team id: they approve the previews of pull requests that change code (the <ring>-review environments)',
    );
    expect(() => gov.declareGovernance({ repository: 'r', rings: { production: s }, previewReviewers: { users: [1, 2, 3, 4], teams: [5, 6, 7] } })).toThrow(/at most six/);
    expect(() => gov.declareGovernance({ repository: 'r', rings: { production: s }, previewReviewers: { users: [0] } })).toThrow(/positive integer ids/);
  });
});

describe('readGovernanceConfig', () => {
  const NS = 'fleet-governance';
  const base = {
    [`${NS}:enabled`]: 'true',
    [`${NS}:repository`]: 'fleet',
    [`${NS}:canaryMenderAccessToken`]: 'ct',
    [`${NS}:canaryPulumiConfigPassphrase`]: 'cp',
    [`${NS}:productionMenderAccessToken`]: 'pt',
    [`${NS}:productionPulumiConfigPassphrase`]: 'pp',
    [`${NS}:canaryMenderServerUrl`]: 'https://mender.example.com',
    [`${NS}:requiredApprovals`]: '{"canary":0,"production":1}',
    [`${NS}:mergers`]: '["/acme/fleet-maintainers"]',
    [`${NS}:previewReviewers`]: '{"teams":[202]}',
    [`${NS}:productionPreviewMenderAccessToken`]: 'pt-read-only',
  };
  const secretKeys = ['canaryMenderAccessToken', 'canaryPulumiConfigPassphrase', 'productionMenderAccessToken', 'productionPulumiConfigPassphrase', 'productionPreviewMenderAccessToken'].map((k) => `${NS}:${k}`);
  afterAll(() => pulumi.runtime.setAllConfig({}, []));

  it('is off unless enabled', () => {
    pulumi.runtime.setAllConfig({ [`${NS}:repository`]: 'fleet' }, []);
    expect(gov.readGovernanceConfig()).toBeUndefined();
    pulumi.runtime.setAllConfig({ ...base, [`${NS}:enabled`]: 'false' }, secretKeys);
    expect(gov.readGovernanceConfig()).toBeUndefined();
  });

  it('reads the rings, their secrets as secret outputs, approvals and mergers', async () => {
    pulumi.runtime.setAllConfig(base, secretKeys);
    const args = gov.readGovernanceConfig()!;
    expect(args.repository).toBe('fleet');
    expect(Object.keys(args.rings)).toEqual(['canary', 'production']);
    expect(args.requiredApprovals).toEqual({ canary: 0, production: 1 });
    expect(args.mergers).toEqual(['/acme/fleet-maintainers']);
    expect(args.previewReviewers).toEqual({ teams: [202] });
    expect(args.rings.canary.previewMenderAccessToken).toBeUndefined();
    const previewToken = args.rings.production.previewMenderAccessToken as pulumi.Output<string>;
    expect(await pulumi.isSecret(previewToken)).toBe(true);
    expect(await value(previewToken)).toBe('pt-read-only');
    expect(args.rings.canary.menderServerUrl).toBe('https://mender.example.com');
    expect(args.rings.production.menderServerUrl).toBeUndefined();
    expect(args.rings.production.pulumiBackendUrl).toBeUndefined();
    const token = args.rings.canary.menderAccessToken as pulumi.Output<string>;
    expect(pulumi.Output.isInstance(token)).toBe(true);
    expect(await pulumi.isSecret(token)).toBe(true);
    expect(await value(token)).toBe('ct');
    expect(await pulumi.isSecret(args.rings.production.pulumiConfigPassphrase as pulumi.Output<string>)).toBe(true);
  });

  it('refuses a secret stored in plain text, naming the key and the fix', () => {
    pulumi.runtime.setAllConfig(base, secretKeys.filter((k) => !k.endsWith('productionMenderAccessToken')));
    expect(() => gov.readGovernanceConfig()).toThrow(
      'fleet-governance:productionMenderAccessToken is stored in plain text; set it with: pulumi config set --secret fleet-governance:productionMenderAccessToken ...',
    );
  });

  it('requires every ring secret', () => {
    const partial: Record<string, string> = { ...base };
    delete partial[`${NS}:canaryPulumiConfigPassphrase`];
    pulumi.runtime.setAllConfig(partial, secretKeys);
    expect(() => gov.readGovernanceConfig()).toThrow(/fleet-governance:canaryPulumiConfigPassphrase is required/);
  });
});

describe('the governance project', () => {
  it('is its own Pulumi project, fleet-governance, off by default', () => {
    const project = parse(fs.readFileSync(path.join(repoRoot, 'governance', 'Pulumi.yaml'), 'utf8'));
    expect(project.name).toBe('fleet-governance');
    expect(project.runtime).toMatchObject({ name: 'nodejs' });
    expect(project.config.enabled).toEqual({ type: 'boolean', default: false });
  });

  it('requires the check that preview.yml reports: the preview job is named PREVIEW_CHECK', () => {
    const workflow = parse(fs.readFileSync(path.join(repoRoot, '.github', 'workflows', 'preview.yml'), 'utf8'));
    const names = Object.values(workflow.jobs as Record<string, { name?: string }>).map((j) => j.name);
    expect(names).toContain(gov.PREVIEW_CHECK);
  });

  it('labels drift issues as drift.yml does', () => {
    const drift = fs.readFileSync(path.join(repoRoot, '.github', 'workflows', 'drift.yml'), 'utf8');
    expect(drift).toContain(`const label = '${gov.DRIFT_LABEL}';`);
  });
});
