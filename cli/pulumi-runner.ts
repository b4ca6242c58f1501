import * as path from 'node:path';

/** The project folder (where Pulumi.yaml is). The CLI reaches the engine through cli/workspace.ts. */
export const repoRoot = path.resolve(__dirname, '..');
