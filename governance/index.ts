// The fleet repository's governance on GitHub: a separate Pulumi project (fleet-governance),
// run by a repository admin with a GitHub token (`github:token` or GITHUB_TOKEN), never by the
// fleet's own workflows. Off unless `fleet-governance:enabled` is true.
import { declareGovernance, readGovernanceConfig } from './governance';

const args = readGovernanceConfig();
const governance = args ? declareGovernance(args) : undefined;

export const enabled = governance !== undefined;
export const protectedBranches = governance?.protections.map((p) => p.pattern) ?? [];
export const environments = governance?.environments.map((e) => e.environment) ?? [];
