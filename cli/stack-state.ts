// What `fleet plan` and `fleet status` read of a ring's stack, once per command: its last
// checkpoint, exported with its secrets shown, and its configuration. The Stack's outputs are in
// the checkpoint, so they cost no `pulumi stack output` (the Automation API's outputs() runs it
// twice, with and without --show-secrets: 0.6 to 0.8 s each, docs/performance.md).
import type { ConfigMap } from '@pulumi/pulumi/automation';
import { isSecretValue } from '../program/audit/snapshot';
import { ringStack } from './workspace';

/** A resource of an exported checkpoint, as far as these commands read it. */
export interface CheckpointResource {
  urn: string;
  type: string;
  outputs?: Record<string, unknown>;
}

/** A stack's last checkpoint: its resources, secrets in clear. */
export interface StackCheckpoint {
  resources: CheckpointResource[];
}

export async function stackCheckpoint(stack: string, env: NodeJS.ProcessEnv): Promise<StackCheckpoint> {
  const exported = await (await ringStack(stack, env)).exportStack();
  return { resources: (exported.deployment as { resources?: CheckpointResource[] } | undefined)?.resources ?? [] };
}

/** The stack's configuration, secrets in clear (they stay in this process). */
export async function stackConfig(stack: string, env: NodeJS.ProcessEnv): Promise<ConfigMap> {
  return (await ringStack(stack, env)).getAllConfig();
}

/**
 * A value of the checkpoint with every secret in it replaced by its value, as `pulumi stack
 * output --show-secrets` prints it; a secret the export left encrypted is undefined.
 */
export function inClear(value: unknown): unknown {
  if (isSecretValue(value)) return typeof value.plaintext === 'string' ? inClear(JSON.parse(value.plaintext)) : undefined;
  if (Array.isArray(value)) return value.map(inClear);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, inClear(v)]));
  return value;
}

const STACK_TYPE = 'pulumi:pulumi:Stack';

/** The outputs the stack's last update recorded (none before its first), in clear. */
export function stackOutputs(checkpoint: StackCheckpoint): Record<string, unknown> {
  const root = checkpoint.resources.find((r) => r.type === STACK_TYPE);
  return Object.fromEntries(Object.entries(root?.outputs ?? {}).map(([key, value]) => [key, inClear(value)]));
}
