import { FAILED_DEVICE_STATUSES, isMenderApiError, sleep } from './mender';
import type { MenderClient } from './mender';
import { nameAFew } from './name-a-few';
import type { DeploymentStatistics } from './mender';
import { DEFAULT_TIMEOUT_SECONDS, RolloutPolicy, StatusCounts } from './types';

export interface RolloutResult {
  status: string;
  statistics: StatusCounts;
  failedDevices: string[];
}

/** A rollout that had to be stopped; names the devices so the operator can look at them. */
export class RolloutError extends Error {
  constructor(message: string, readonly result: RolloutResult) {
    super(message);
    this.name = 'RolloutError';
  }
}

/** A deployment's statistics without the statuses no device is in. */
export function nonZeroCounts(statistics: DeploymentStatistics): StatusCounts {
  return Object.fromEntries(Object.entries(statistics).filter(([, n]) => typeof n === 'number' && n > 0));
}

function failures(statistics: DeploymentStatistics): number {
  const byStatus: Partial<Record<string, number>> = statistics;
  return [...FAILED_DEVICE_STATUSES].reduce((sum, key) => sum + (byStatus[key] ?? 0), 0);
}

async function failedDevicesOf(client: MenderClient, deploymentId: string): Promise<string[]> {
  const devices = await client.listDeploymentDevices(deploymentId);
  return devices.filter((d) => FAILED_DEVICE_STATUSES.has(d.status)).map((d) => d.id).sort();
}

/**
 * Aborts the deployment. mender-server answers 422 when it finished first (AbortDeployment,
 * deployments api/http/api_deployments.go: ErrDeploymentAlreadyFinished): then nothing was
 * aborted, and the error must say it finished. Any other failure is returned for the message.
 */
async function abortUnlessFinished(client: MenderClient, deploymentId: string): Promise<'aborted' | 'finished' | Error> {
  try {
    await client.abortDeployment(deploymentId);
    return 'aborted';
  } catch (error) {
    if (isMenderApiError(error) && error.status === 422) return 'finished';
    return error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * Watches a deployment until it finishes. Aborts it and fails as soon as the share of failed
 * devices exceeds the policy's ratio, so a bad image stops itself instead of reaching the
 * whole ring; fails (leaving it running) when it outlasts the timeout.
 */
export async function watchRollout(client: MenderClient, deploymentId: string, deviceCount: number, policy: RolloutPolicy = {}): Promise<RolloutResult> {
  const timeoutMs = (policy.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
  const pollMs = Math.max(10, (policy.pollSeconds ?? 2) * 1000);
  const maxRatio = policy.maxFailureRatio ?? 0;
  const started = Date.now();
  for (;;) {
    const [deployment, statistics] = await Promise.all([client.getDeployment(deploymentId), client.getDeploymentStatistics(deploymentId)]);
    const failed = failures(statistics);
    if (deviceCount > 0 && failed / deviceCount > maxRatio) {
      const abort = deployment.status === 'finished' ? 'finished' : await abortUnlessFinished(client, deploymentId);
      const failedDevices = await failedDevicesOf(client, deploymentId);
      const after = await client.getDeploymentStatistics(deploymentId);
      const nowFailed = failures(after);
      const named = `failed devices: ${nameAFew(failedDevices)}`;
      if (abort === 'aborted') {
        throw new RolloutError(`deployment ${deploymentId} of ${deviceCount} device(s) was aborted: ${failed} failed, above the allowed ratio ${maxRatio}; ${named}`, {
          status: 'aborted',
          statistics: nonZeroCounts(after),
          failedDevices,
        });
      }
      if (abort === 'finished') {
        throw new RolloutError(
          `deployment ${deploymentId} of ${deviceCount} device(s) finished with ${nowFailed} failed, above the allowed ratio ${maxRatio}, before it could be aborted; ${named}`,
          { status: 'finished', statistics: nonZeroCounts(after), failedDevices },
        );
      }
      throw new RolloutError(
        `deployment ${deploymentId} of ${deviceCount} device(s) has ${nowFailed} failed, above the allowed ratio ${maxRatio}, and aborting it failed (${abort.message}): it may still be running on the server; ${named}`,
        { status: deployment.status, statistics: nonZeroCounts(after), failedDevices },
      );
    }
    if (deployment.status === 'finished') {
      return { status: 'finished', statistics: nonZeroCounts(statistics), failedDevices: failed > 0 ? await failedDevicesOf(client, deploymentId) : [] };
    }
    if (policy.waitForCompletion === false) {
      return { status: deployment.status, statistics: nonZeroCounts(statistics), failedDevices: [] };
    }
    if (Date.now() - started > timeoutMs) {
      const pending = (statistics.pending ?? 0) + (statistics.downloading ?? 0) + (statistics.installing ?? 0) + (statistics.rebooting ?? 0);
      throw new RolloutError(
        `deployment ${deploymentId} did not finish within ${timeoutMs / 1000}s: ${pending} device(s) still pending or installing (offline devices wait until they poll). It keeps running on the server; the next up waits for it again.`,
        { status: deployment.status, statistics: nonZeroCounts(statistics), failedDevices: [] },
      );
    }
    await sleep(pollMs);
  }
}
