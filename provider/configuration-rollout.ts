// Configuring many devices at once: send each device its configuration (only where Mender does not
// already hold and report it), then wait for all of them in one polling loop. A device that fails
// or never reports fails alone; the others go on. Shared by DeviceConfigurationSet and the
// single-device DeviceConfiguration.
import { isNotFound } from './protocol';
import type { MenderClient } from './mender';
import { deviceConfigurations } from './mender/observed';
import { sleep } from './mender';
import { DEFAULT_TIMEOUT_SECONDS } from './types';
import { configurationHealth, differingKeys, isConfiguration } from '../shared/health';

/** The map Mender is to hold for a device: plain and secret values together. */
export function desired(configuration: { values?: Record<string, string>; secretValues?: Record<string, string> }): Record<string, string> {
  return { ...configuration.values, ...configuration.secretValues };
}

/** Mender's limit of keys per device (deviceconfig model/attribute.go; more fail with a 500). */
export const MAX_CONFIGURATION_KEYS = 100;

/** What is wrong with one device's configuration before anything is sent (for `check`). */
export function configurationProblems(
  deviceId: string,
  values: Record<string, unknown>,
  secretValues: Record<string, unknown>,
): { property: 'values' | 'secretValues'; reason: string }[] {
  const problems: { property: 'values' | 'secretValues'; reason: string }[] = [];
  for (const [key, value] of Object.entries({ ...values, ...secretValues })) {
    if (typeof value !== 'string') problems.push({ property: key in secretValues ? 'secretValues' : 'values', reason: `device ${deviceId}: configuration key ${key} must be a string (Mender's configuration is a map of strings)` });
  }
  const keyCount = Object.keys({ ...values, ...secretValues }).length;
  if (keyCount > MAX_CONFIGURATION_KEYS) {
    problems.push({ property: 'values', reason: `device ${deviceId} would get ${keyCount} configuration keys and Mender accepts at most ${MAX_CONFIGURATION_KEYS}: merge keys (for example into one JSON value)` });
  }
  const overlap = Object.keys(values).filter((k) => k in secretValues);
  if (overlap.length > 0) problems.push({ property: 'secretValues', reason: `device ${deviceId}: keys ${overlap.join(', ')} are both plain and secret` });
  return problems;
}

/** Clears devices' configuration; only a deployment takes it (and the secrets in it) off the device. */
export async function clearConfigurations(client: MenderClient, devices: readonly string[]): Promise<void> {
  await client.mapLimited(devices, async (id) => {
    const context = { deviceId: id, action: 'clearing its configuration' };
    await client.setDeviceConfiguration(id, {}, context);
    await client.deployDeviceConfiguration(id, {}, context);
  });
}

const DEFAULT_POLL_MS = 250;

export interface ConfigurationRolloutOptions {
  /** Wait until each device reports the configuration (default true). */
  waitForReport?: boolean;
  timeoutSeconds?: number;
  pollMs?: number;
}

export interface ConfigurationRolloutResult {
  /** Device → the configuration deployment that configured it (new, or Mender's last one when nothing was sent). */
  deploymentIds: Map<string, string>;
  /** Devices that were already configured and reported as wanted: nothing was sent to them. */
  unchanged: Set<string>;
  /** Device → why it is not configured (for people: names the deployment and what to check). */
  failed: Map<string, string>;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Brings each device's configuration in Mender to `want`, then (unless told not to) waits until
 * each device itself reports it: only the device's own report changes `reported`. The deployment
 * is made by Mender's workflows service after deploy has answered, so its statistics are a 404
 * for a while; that is waited out too.
 */
export async function rollOutConfigurations(
  client: MenderClient,
  want: ReadonlyMap<string, Record<string, string>>,
  options: ConfigurationRolloutOptions = {},
): Promise<ConfigurationRolloutResult> {
  const result: ConfigurationRolloutResult = { deploymentIds: new Map(), unchanged: new Set(), failed: new Map() };
  const ids = [...want.keys()];
  const states = await deviceConfigurations(client, ids);
  const toSend = ids.filter((id) => {
    const state = states.get(id);
    if (state instanceof Error) {
      result.failed.set(id, `cannot read the configuration of device ${id}: ${state.message}`);
      return false;
    }
    if (configurationHealth(state, isConfiguration(want.get(id)!)) !== 'in sync') return true;
    result.unchanged.add(id);
    if (state?.deployment_id) result.deploymentIds.set(id, state.deployment_id);
    return false;
  });

  const sent = await client.mapLimitedSettled(toSend, async (id) => {
    await client.setDeviceConfiguration(id, want.get(id)!, { deviceId: id });
    return (await client.deployDeviceConfiguration(id, {}, { deviceId: id })).deployment_id;
  });
  const pending = new Map<string, { deploymentId: string; seen: boolean }>();
  sent.forEach((outcome, i) => {
    const id = toSend[i];
    if (outcome.status === 'rejected') result.failed.set(id, `device ${id}: ${reasonOf(outcome.reason)}`);
    else {
      result.deploymentIds.set(id, outcome.value);
      pending.set(id, { deploymentId: outcome.value, seen: false });
    }
  });
  if (options.waitForReport === false) return result;

  const timeoutSeconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const deadline = Date.now() + timeoutSeconds * 1000;
  while (pending.size > 0) {
    const round = [...pending.keys()];
    const reported = await deviceConfigurations(client, round);
    const waiting = round.filter((id) => {
      const state = reported.get(id);
      // As in the first read: the device fails alone, and the others' deployments are kept.
      if (state instanceof Error) {
        result.failed.set(id, `cannot read the configuration of device ${id} while waiting for its report (deployment ${pending.get(id)!.deploymentId}): ${state.message}`);
        pending.delete(id);
        return false;
      }
      if (state && differingKeys(want.get(id)!, state.reported).length === 0) {
        pending.delete(id);
        return false;
      }
      return true;
    });
    const statistics = await client.mapLimitedSettled(waiting, (id) => client.getDeploymentStatistics(pending.get(id)!.deploymentId, { deviceId: id }));
    statistics.forEach((outcome, i) => {
      const id = waiting[i];
      const entry = pending.get(id)!;
      if (outcome.status === 'rejected') {
        if (isNotFound(outcome.reason)) return;
        result.failed.set(id, `cannot read the configuration deployment ${entry.deploymentId} of device ${id}: ${reasonOf(outcome.reason)}`);
        pending.delete(id);
        return;
      }
      entry.seen = true;
      if ((outcome.value.failure ?? 0) > 0) {
        result.failed.set(id, `device ${id} failed to apply its configuration (deployment ${entry.deploymentId}); see the deployment log in Mender`);
        pending.delete(id);
      }
    });
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      for (const [id, entry] of pending) {
        result.failed.set(
          id,
          entry.seen
            ? `device ${id} has not reported its new configuration within ${timeoutSeconds}s (deployment ${entry.deploymentId}); is it online?`
            : `the configuration deployment ${entry.deploymentId} for device ${id} did not appear in Mender within ${timeoutSeconds}s; is Mender's workflows service running?`,
        );
      }
      break;
    }
    await sleep(options.pollMs ?? DEFAULT_POLL_MS);
  }
  return result;
}
