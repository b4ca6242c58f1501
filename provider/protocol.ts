// How the dynamic providers speak the engine's protocol, one idiom each: a partial failure
// (the operation changed Mender, and the engine must record what it changed), a resource found
// gone by `read`, and "not found" from Mender (provider/mender/errors.ts, isNotFound).
import type * as pulumi from '@pulumi/pulumi';

export { isNotFound } from './mender/errors';

/**
 * An operation that failed after it changed Mender. The engine records a resource whose
 * operation failed when the error carries its id and properties (Pulumi's dynamic provider host
 * turns them into ErrorResourceInitFailed), so the next update goes on from what was done
 * instead of starting anew. The engine prints the reasons, not the message: the summary goes first.
 */
export class PartialFailure<Properties> extends Error {
  constructor(
    readonly id: string,
    readonly properties: Properties,
    readonly reasons: string[],
    options?: { cause?: unknown },
  ) {
    super(reasons[0], options);
  }
}

/** What `read` returns for a resource that no longer exists: no id, and the engine takes it as gone. */
export function gone(): pulumi.dynamic.ReadResult {
  return {};
}
