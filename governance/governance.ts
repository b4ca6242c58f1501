// Repository governance as code (@pulumi/github): what keeps the ring branches reachable only
// through reviewed, previewed pull requests, and where each ring's secrets live.
//
// - `develop` is the default branch, where work happens; ring branches only receive merges.
// - Each ring branch is protected: a pull request is required (so no direct pushes, admins
//   included), the `fleet-preview` check of .github/workflows/preview.yml must pass on an
//   up-to-date branch, approving reviews as configured (production: 1, stale ones dismissed),
//   no force pushes, no deletions; optionally only `mergers` may merge.
// - The working branch is protected too (a pull request with an approval): GitHub runs the
//   preview workflow (pull_request_target) from the default branch, so its workflows are
//   trusted code.
// - Each ring has three Actions environments holding its secrets (README, "Trust model"):
//   `<ring>`, for apply and drift, released only to jobs on the ring branch; `<ring>-preview`,
//   for previews of pull requests that change only the fleet description (the ring's program
//   runs, with the pull request's fleet as data); `<ring>-review`, for previews of pull requests
//   that change anything else, released only when a reviewer approves the job. Both preview
//   environments are released only to jobs on the working branch, where GitHub runs
//   pull_request_target workflows.
import * as github from '@pulumi/github';
import * as pulumi from '@pulumi/pulumi';

/** The job name of .github/workflows/preview.yml: the status check the rings require. */
export const PREVIEW_CHECK = 'fleet-preview';
/** The label of the issues the drift workflow opens (.github/workflows/drift.yml). */
export const DRIFT_LABEL = 'fleet-drift';

export interface RingSecrets {
  menderAccessToken: pulumi.Input<string>;
  pulumiConfigPassphrase: pulumi.Input<string>;
  /**
   * The token the previews use (`<ring>-preview`, `<ring>-review`): a read-only one where the
   * server's roles allow it, since a preview only reads. Default: menderAccessToken.
   */
  previewMenderAccessToken?: pulumi.Input<string>;
  /** Not a secret: an environment variable. */
  menderServerUrl?: string;
  pulumiBackendUrl?: pulumi.Input<string>;
}

export interface GovernanceArgs {
  /** The repository's name (its owner is the provider's `github:owner`). */
  repository: string;
  /** The default branch, where work happens. */
  workingBranch?: string;
  /** The branch the working branch is created from, when it does not exist yet. */
  sourceBranch?: string;
  /** The ring branches, each with its environment's secrets. */
  rings: Record<string, RingSecrets>;
  /**
   * Approving reviews required per branch (the rings and the working branch); a ring not
   * listed needs a pull request with 0 approvals, the working branch 1.
   */
  requiredApprovals?: Record<string, number>;
  /**
   * Who approves the preview of a pull request that changes code (the `<ring>-review`
   * environments): GitHub user and team ids (numbers), at least one; at most six in all.
   */
  previewReviewers: PreviewReviewers;
  /** Actors (`/org/team`, `/user`, node IDs) allowed to merge into the ring branches; empty: anyone with write access, through a pull request. */
  mergers?: string[];
  /** The provider to use (tests, or an explicit token). */
  provider?: github.Provider;
}

export interface PreviewReviewers {
  users?: number[];
  teams?: number[];
}

/** The environments of a ring, as preview.yml, apply.yml and drift.yml name them. */
export function ringEnvironments(ring: string): { deploy: string; preview: string; review: string } {
  return { deploy: ring, preview: `${ring}-preview`, review: `${ring}-review` };
}

export interface Governance {
  workingBranch: github.Branch;
  defaultBranch: github.BranchDefault;
  ringBranches: github.Branch[];
  protections: { pattern: string; resource: github.BranchProtection }[];
  environments: { environment: string; resource: github.RepositoryEnvironment }[];
  deploymentPolicies: { environment: string; branch: string; resource: github.RepositoryEnvironmentDeploymentPolicy }[];
  secrets: github.ActionsEnvironmentSecret[];
  variables: github.ActionsEnvironmentVariable[];
  driftLabel: github.IssueLabel;
}

export const DEFAULT_APPROVALS: Record<string, number> = { canary: 0, production: 1 };
/** Approvals on the working branch when requiredApprovals does not name it. */
export const DEFAULT_WORKING_APPROVALS = 1;

export function declareGovernance(args: GovernanceArgs): Governance {
  const opts: pulumi.CustomResourceOptions = args.provider ? { provider: args.provider } : {};
  const repository = args.repository;
  const working = args.workingBranch ?? 'develop';
  const rings = Object.keys(args.rings);
  if (rings.length === 0) throw new Error('governance: no ring branches to protect');
  if (rings.includes(working)) throw new Error(`governance: the working branch ${working} cannot be a ring`);
  const approvals = args.requiredApprovals ?? DEFAULT_APPROVALS;
  for (const [ring, count] of Object.entries(approvals)) {
    if (!Number.isInteger(count) || count < 0 || count > 6) {
      throw new Error(`governance: requiredApprovals.${ring} must be an integer from 0 to 6, not ${count}`);
    }
  }
  const mergers = args.mergers ?? [];
  const reviewerUsers = args.previewReviewers?.users ?? [];
  const reviewerTeams = args.previewReviewers?.teams ?? [];
  const reviewerIds = [...reviewerUsers, ...reviewerTeams];
  if (reviewerIds.length === 0) {
    throw new Error('governance: previewReviewers needs at least one GitHub user or team id: they approve the previews of pull requests that change code (the <ring>-review environments)');
  }
  if (reviewerIds.length > 6 || reviewerIds.some((id) => !Number.isInteger(id) || id <= 0)) {
    throw new Error('governance: previewReviewers takes at most six positive integer ids (GitHub user and team ids, not logins)');
  }

  const repo = github.getRepositoryOutput({ name: repository }, args.provider ? { provider: args.provider } : undefined);

  const workingBranch = new github.Branch(`branch-${working}`, {
    repository,
    branch: working,
    sourceBranch: args.sourceBranch ?? 'main',
  }, opts);
  const defaultBranch = new github.BranchDefault('default-branch', {
    repository,
    branch: workingBranch.branch,
  }, opts);

  const ringBranches: github.Branch[] = [];
  const protections: Governance['protections'] = [];
  const environments: Governance['environments'] = [];
  const deploymentPolicies: Governance['deploymentPolicies'] = [];

  /**
   * A branch that changes only by a pull request (admins included), with `approvals` approving
   * reviews, no force pushes, no deletions; pushes (merges included) limited to the mergers,
   * when there are any; `checks` must pass on a branch up to date with it.
   */
  const protect = (pattern: string, approvals: number, branch: github.Branch, checks: string[] = []) => {
    const resource = new github.BranchProtection(`protect-${pattern}`, {
      repositoryId: repo.nodeId,
      pattern,
      enforceAdmins: true,
      allowsForcePushes: false,
      allowsDeletions: false,
      lockBranch: false,
      requireConversationResolution: true,
      requiredPullRequestReviews: [{
        requiredApprovingReviewCount: approvals,
        dismissStaleReviews: true,
        requireLastPushApproval: approvals > 0,
      }],
      ...(checks.length > 0 ? { requiredStatusChecks: [{ strict: true, contexts: checks }] } : {}),
      restrictPushes: mergers.length > 0 ? [{ blocksCreations: true, pushAllowances: mergers }] : [],
    }, { ...opts, dependsOn: [branch] });
    protections.push({ pattern, resource });
  };

  // The preview workflow runs from the default branch with preview credentials: its changes are
  // reviewed like the rings'. No status check: nothing previews a merge into it.
  protect(working, approvals[working] ?? DEFAULT_WORKING_APPROVALS, workingBranch);

  /** An environment whose secrets GitHub releases only to jobs whose ref is `branch`. */
  const environmentFor = (name: string, branch: string, extra: Partial<github.RepositoryEnvironmentArgs> = {}) => {
    const resource = new github.RepositoryEnvironment(`environment-${name}`, {
      repository,
      environment: name,
      canAdminsBypass: false,
      deploymentBranchPolicy: { protectedBranches: false, customBranchPolicies: true },
      ...extra,
    }, opts);
    environments.push({ environment: name, resource });
    const policy = new github.RepositoryEnvironmentDeploymentPolicy(`environment-${name}-branch`, {
      repository,
      environment: resource.environment,
      branchPattern: branch,
    }, opts);
    deploymentPolicies.push({ environment: name, branch, resource: policy });
    return resource;
  };
  const secrets: github.ActionsEnvironmentSecret[] = [];
  const variables: github.ActionsEnvironmentVariable[] = [];

  for (const ring of rings) {
    const branch = new github.Branch(`branch-${ring}`, {
      repository,
      branch: ring,
      sourceBranch: workingBranch.branch,
    }, opts);
    ringBranches.push(branch);

    // The preview of the merged result must have passed, on a branch up to date with the ring.
    protect(ring, approvals[ring] ?? 0, branch, [PREVIEW_CHECK]);

    const names = ringEnvironments(ring);
    const ringSecrets = args.rings[ring];
    const deploy = environmentFor(names.deploy, ring);
    // pull_request_target jobs run on the default branch's ref: only there are previews released.
    const preview = environmentFor(names.preview, working);
    const review = environmentFor(names.review, working, {
      reviewers: [{ users: reviewerUsers, teams: reviewerTeams }],
      // The author of a pull request does not approve the run of their own code.
      preventSelfReview: true,
    });
    const previewToken = ringSecrets.previewMenderAccessToken ?? ringSecrets.menderAccessToken;
    for (const [environment, name, token] of [[deploy, names.deploy, ringSecrets.menderAccessToken], [preview, names.preview, previewToken], [review, names.review, previewToken]] as const) {
      const secretValues: [string, pulumi.Input<string> | undefined][] = [
        ['MENDER_ACCESS_TOKEN', token],
        ['PULUMI_CONFIG_PASSPHRASE', ringSecrets.pulumiConfigPassphrase],
        ['PULUMI_BACKEND_URL', ringSecrets.pulumiBackendUrl],
      ];
      for (const [secretName, value] of secretValues) {
        if (value === undefined) continue;
        secrets.push(new github.ActionsEnvironmentSecret(`${name}-${secretName.toLowerCase()}`, {
          repository,
          environment: environment.environment,
          secretName,
          // Secret in the state and in every diff, whatever the caller passed.
          value: pulumi.secret(value),
        }, opts));
      }
      if (ringSecrets.menderServerUrl) {
        variables.push(new github.ActionsEnvironmentVariable(`${name}-mender_server_url`, {
          repository,
          environment: environment.environment,
          variableName: 'MENDER_SERVER_URL',
          value: ringSecrets.menderServerUrl,
        }, opts));
      }
    }
  }

  const driftLabel = new github.IssueLabel('label-fleet-drift', {
    repository,
    name: DRIFT_LABEL,
    color: 'd93f0b',
    description: 'The fleet differs from its ring branch (opened by the drift workflow)',
  }, opts);

  return { workingBranch, defaultBranch, ringBranches, protections, environments, deploymentPolicies, secrets, variables, driftLabel };
}

const NAMESPACE = 'fleet-governance';

/** Whether the stack's configuration holds `key` encrypted (a `--secret` value). */
function isSecretConfig(key: string): boolean {
  // The language host passes the encrypted keys' names; @pulumi/pulumi reads them with this
  // internal function (JavaScript export, no type declaration).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const runtimeConfig = require('@pulumi/pulumi/runtime/config') as { isConfigSecret?: (k: string) => boolean };
  return runtimeConfig.isConfigSecret?.(key) ?? false;
}

/**
 * Reads the `fleet-governance:` configuration; undefined when `enabled` is not true. Secret
 * values must have been set with `pulumi config set --secret`: a plain one is refused.
 */
export function readGovernanceConfig(): GovernanceArgs | undefined {
  const config = new pulumi.Config(NAMESPACE);
  if (!config.getBoolean('enabled')) return undefined;
  const requireSecretConfig = (key: string, required: boolean): pulumi.Output<string> | undefined => {
    const present = config.get(key) !== undefined;
    if (!present) {
      if (required) throw new Error(`${NAMESPACE}:${key} is required: pulumi config set --secret ${NAMESPACE}:${key} ...`);
      return undefined;
    }
    if (!isSecretConfig(`${NAMESPACE}:${key}`)) {
      throw new Error(`${NAMESPACE}:${key} is stored in plain text; set it with: pulumi config set --secret ${NAMESPACE}:${key} ...`);
    }
    return config.requireSecret(key);
  };
  const ringNames = config.getObject<string[]>('rings') ?? ['canary', 'production'];
  const pulumiBackendUrl = requireSecretConfig('pulumiBackendUrl', false);
  const rings: Record<string, RingSecrets> = {};
  for (const ring of ringNames) {
    rings[ring] = {
      menderAccessToken: requireSecretConfig(`${ring}MenderAccessToken`, true)!,
      previewMenderAccessToken: requireSecretConfig(`${ring}PreviewMenderAccessToken`, false),
      pulumiConfigPassphrase: requireSecretConfig(`${ring}PulumiConfigPassphrase`, true)!,
      menderServerUrl: config.get(`${ring}MenderServerUrl`),
      pulumiBackendUrl,
    };
  }
  return {
    repository: config.require('repository'),
    workingBranch: config.get('workingBranch'),
    sourceBranch: config.get('sourceBranch'),
    rings,
    requiredApprovals: config.getObject<Record<string, number>>('requiredApprovals'),
    mergers: config.getObject<string[]>('mergers'),
    previewReviewers: config.requireObject<PreviewReviewers>('previewReviewers'),
  };
}
