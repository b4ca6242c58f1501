// Repository governance as code (@pulumi/github): what keeps the ring branches reachable only
// through reviewed, previewed pull requests, and where each ring's secrets live.
//
// - `develop` is the default branch, where work happens; ring branches only receive merges.
// - Each ring branch is protected: a pull request is required (so no direct pushes, admins
//   included), the `fleet-preview` check of .github/workflows/preview.yml must pass on an
//   up-to-date branch, approving reviews as configured (production: 1, stale ones dismissed),
//   no force pushes, no deletions; optionally only `mergers` may merge.
// - Each ring has an Actions environment of its name holding its secrets, which the
//   workflows select with `environment: <ring>`.
import * as github from '@pulumi/github';
import * as pulumi from '@pulumi/pulumi';

/** The job name of .github/workflows/preview.yml: the status check the rings require. */
export const PREVIEW_CHECK = 'fleet-preview';
/** The label of the issues the drift workflow opens (.github/workflows/drift.yml). */
export const DRIFT_LABEL = 'fleet-drift';

export interface RingSecrets {
  menderAccessToken: pulumi.Input<string>;
  pulumiConfigPassphrase: pulumi.Input<string>;
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
  /** Approving reviews required per ring; a ring not listed needs a pull request, 0 approvals. */
  requiredApprovals?: Record<string, number>;
  /** Actors (`/org/team`, `/user`, node IDs) allowed to merge into the ring branches; empty: anyone with write access, through a pull request. */
  mergers?: string[];
  /** The provider to use (tests, or an explicit token). */
  provider?: github.Provider;
}

export interface Governance {
  workingBranch: github.Branch;
  defaultBranch: github.BranchDefault;
  ringBranches: github.Branch[];
  protections: { pattern: string; resource: github.BranchProtection }[];
  environments: { environment: string; resource: github.RepositoryEnvironment }[];
  secrets: github.ActionsEnvironmentSecret[];
  variables: github.ActionsEnvironmentVariable[];
  driftLabel: github.IssueLabel;
}

export const DEFAULT_APPROVALS: Record<string, number> = { canary: 0, production: 1 };

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
  const secrets: github.ActionsEnvironmentSecret[] = [];
  const variables: github.ActionsEnvironmentVariable[] = [];

  for (const ring of rings) {
    const branch = new github.Branch(`branch-${ring}`, {
      repository,
      branch: ring,
      sourceBranch: workingBranch.branch,
    }, opts);
    ringBranches.push(branch);

    const required = approvals[ring] ?? 0;
    const protection = new github.BranchProtection(`protect-${ring}`, {
      repositoryId: repo.nodeId,
      pattern: ring,
      enforceAdmins: true,
      allowsForcePushes: false,
      allowsDeletions: false,
      lockBranch: false,
      requireConversationResolution: true,
      // A pull request is required: nobody pushes to a ring branch directly.
      requiredPullRequestReviews: [{
        requiredApprovingReviewCount: required,
        dismissStaleReviews: true,
        requireLastPushApproval: required > 0,
      }],
      // The preview of the merged result must have passed, on a branch up to date with the ring.
      requiredStatusChecks: [{ strict: true, contexts: [PREVIEW_CHECK] }],
      // Pushes (merges included) limited to the mergers, when there are any.
      restrictPushes: mergers.length > 0 ? [{ blocksCreations: true, pushAllowances: mergers }] : [],
    }, { ...opts, dependsOn: [branch] });
    protections.push({ pattern: ring, resource: protection });

    // No deployment branch policy: the preview of a pull request (whose ref is the pull
    // request's, not the ring's) needs the ring's secrets too. Forks get none from GitHub.
    const environment = new github.RepositoryEnvironment(`environment-${ring}`, {
      repository,
      environment: ring,
      canAdminsBypass: false,
    }, opts);
    environments.push({ environment: ring, resource: environment });

    const ringSecrets = args.rings[ring];
    const secretValues: [string, pulumi.Input<string> | undefined][] = [
      ['MENDER_ACCESS_TOKEN', ringSecrets.menderAccessToken],
      ['PULUMI_CONFIG_PASSPHRASE', ringSecrets.pulumiConfigPassphrase],
      ['PULUMI_BACKEND_URL', ringSecrets.pulumiBackendUrl],
    ];
    for (const [secretName, value] of secretValues) {
      if (value === undefined) continue;
      secrets.push(new github.ActionsEnvironmentSecret(`${ring}-${secretName.toLowerCase()}`, {
        repository,
        environment: environment.environment,
        secretName,
        // Secret in the state and in every diff, whatever the caller passed.
        value: pulumi.secret(value),
      }, opts));
    }
    if (ringSecrets.menderServerUrl) {
      variables.push(new github.ActionsEnvironmentVariable(`${ring}-mender_server_url`, {
        repository,
        environment: environment.environment,
        variableName: 'MENDER_SERVER_URL',
        value: ringSecrets.menderServerUrl,
      }, opts));
    }
  }

  const driftLabel = new github.IssueLabel('label-fleet-drift', {
    repository,
    name: DRIFT_LABEL,
    color: 'd93f0b',
    description: 'The fleet differs from its ring branch (opened by the drift workflow)',
  }, opts);

  return { workingBranch, defaultBranch, ringBranches, protections, environments, secrets, variables, driftLabel };
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
  };
}
