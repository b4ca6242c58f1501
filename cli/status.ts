import Table from 'cli-table3';
import { deviceConfigurations, lastSoftwareDeployment, runningImages, SoftwareDeployment } from '../provider/mender/observed';
import { converged, Health, imageHealth } from '../shared/health';
import { recordedConfigurationHealth } from '../program/health';
import type { DeviceSummary } from '../program/pipeline/declare';
import type { MenderClient } from '../provider/mender';
import { clientFromSettings, menderSettingsFromConfig } from '../provider/settings';
import type { ConfigMap } from '@pulumi/pulumi/automation';
import { StackCheckpoint, stackCheckpoint, stackConfig, stackOutputs } from './stack-state';
import type { RolloutReport } from '../program/rollout-report';
import { recordedDeployments, rolloutReports } from './rollouts';


export interface DeviceStatus {
  id: string;
  deviceType: string;
  ring: string;
  desiredImage: string;
  runningImage: string;
  /** Git's configuration (as the stack applied it) against Mender's (shared/health.ts, program/health.ts); none when Git configures nothing. */
  configuration: Health | 'none';
  /** The device's newest software deployment in Mender: its result, the artifact and the deployment name. */
  lastDeployment?: SoftwareDeployment;
  converged: boolean;
}

/** Desired (Git's, from the stack's outputs) against observed (Mender's) for each device, in the health vocabulary's terms (shared/health.ts). */
export async function fleetStatus(client: MenderClient, devices: Record<string, DeviceSummary>, options: { deployments?: boolean } = {}): Promise<DeviceStatus[]> {
  const ids = Object.keys(devices).sort();
  const running = await runningImages(client, ids);
  const configurations = await deviceConfigurations(client, ids.filter((id) => devices[id].configurationHash));
  return client.mapLimited(ids, async (id) => {
    const desired = devices[id];
    let configuration: DeviceStatus['configuration'] = 'none';
    if (desired.configurationHash) {
      const state = configurations.get(id);
      if (state instanceof Error) throw state;
      configuration = recordedConfigurationHealth({ hash: desired.configurationHash, secretKeys: desired.configurationSecretKeys }, state);
    }
    const runningImage = running.has(id) ? (running.get(id) ?? '(not reported)') : '(unknown to Mender)';
    const status: DeviceStatus = {
      id,
      deviceType: desired.deviceType,
      ring: desired.ring,
      desiredImage: desired.desiredImage,
      runningImage,
      configuration,
      converged: converged(imageHealth(desired.desiredImage, running.get(id)), configuration),
    };
    if (options.deployments) status.lastDeployment = await lastSoftwareDeployment(client, id);
    return status;
  });
}

const describeDeployment = (d: DeviceStatus['lastDeployment']) => (d ? `${d.status} (${d.artifact})` : '(none)');

export function statusTable(rows: DeviceStatus[]): string {
  const withDeployments = rows.some((r) => r.lastDeployment !== undefined);
  const head = ['device', 'type', 'ring', 'desired image', 'running image', 'configuration', ...(withDeployments ? ['last deployment'] : []), ''];
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows) {
    table.push([
      row.id,
      row.deviceType,
      row.ring,
      row.desiredImage,
      row.runningImage,
      row.configuration,
      ...(withDeployments ? [describeDeployment(row.lastDeployment)] : []),
      row.converged ? 'ok' : 'NOT CONVERGED',
    ]);
  }
  return table.toString();
}

/**
 * The devices the stack's last update applied (its `devices` output), or undefined when the
 * stack has none yet. The output is a secret only to keep previews short; the Automation API
 * reads outputs with their secrets shown. It holds no secret value.
 */
export async function appliedDevices(stack: string, env: NodeJS.ProcessEnv, checkpoint?: StackCheckpoint): Promise<Record<string, DeviceSummary> | undefined> {
  const devices = stackOutputs(checkpoint ?? (await stackCheckpoint(stack, env))).devices;
  if (devices === undefined || devices === null) return undefined;
  if (typeof devices !== 'object' || Array.isArray(devices)) throw new Error(`stack ${stack}: the devices output is not a map of device ids (got ${typeof devices})`);
  return devices as Record<string, DeviceSummary>;
}

export interface StatusOptions {
  stack: string;
  env?: NodeJS.ProcessEnv;
  /** What the command read of the stack already (cli/stack-state.ts); read here when not given. */
  checkpoint?: StackCheckpoint;
  config?: ConfigMap;
}

/**
 * The status of a ring: the devices and desired images the stack's last update applied
 * (its `devices` output), measured against Mender now. Mender is reached with the stack's
 * `mender:*` configuration, else MENDER_SERVER_URL / MENDER_ACCESS_TOKEN (as the program does).
 */
export async function ringStatus(options: StatusOptions): Promise<DeviceStatus[]> {
  const env = options.env ?? process.env;
  const devices = await appliedDevices(options.stack, env, options.checkpoint);
  if (!devices) throw new Error(`stack ${options.stack} has no devices output: has it been applied (pulumi up) yet?`);
  const config = options.config ?? (await stackConfig(options.stack, env));
  const client = clientFromSettings(menderSettingsFromConfig((key) => config[key]?.value, env));
  try {
    return await fleetStatus(client, devices, { deployments: true });
  } finally {
    client.close();
  }
}

/** Exit status of `fleet status`: 0 when every device converged, 2 when some did not (1 is an error). */
export const NOT_CONVERGED_EXIT = 2;

/** The ring's rollouts under way or stopped, in words, judged with the policy each recorded. */
export async function ringRollouts(options: StatusOptions, rows: DeviceStatus[]): Promise<RolloutReport[]> {
  const env = options.env ?? process.env;
  const deployments = recordedDeployments(options.checkpoint ?? (await stackCheckpoint(options.stack, env)));
  const config = options.config ?? (await stackConfig(options.stack, env));
  const client = clientFromSettings(menderSettingsFromConfig((key) => config[key]?.value, env));
  try {
    return await rolloutReports(client, deployments, (image) => rows.filter((r) => r.desiredImage === image).map((r) => ({ id: r.id, runningImage: r.runningImage })));
  } finally {
    client.close();
  }
}

function statusText(stack: string, rows: DeviceStatus[], rollouts: RolloutReport[]): string {
  const stragglers = rows.filter((r) => !r.converged).length;
  const lines = [statusTable(rows), stragglers === 0 ? `all ${rows.length} devices of ${stack} converged` : `${stragglers} of ${rows.length} devices of ${stack} not converged`];
  for (const rollout of rollouts) lines.push('', rollout.lines[0], ...rollout.lines.slice(1).map((l) => `  ${l}`));
  return lines.join('\n');
}

export interface StatusCommandOptions {
  stack: string;
  json?: boolean;
  rollouts?: boolean;
  /** Read again every `everyMs` until nothing changes, at most `atMost` times in all. */
  watch?: { everyMs: number; atMost: number };
}

/** `fleet status` (cli/commands/status.ts): the table, the rows as JSON, or only the rollouts. */
export async function runStatus(opts: StatusCommandOptions): Promise<void> {
  const { watch } = opts;
  let previous: string | undefined;
  for (let round = 0; ; round++) {
    // One export and one read of the configuration a round, for the table and the rollouts.
    const env = process.env;
    const [checkpoint, config] = await Promise.all([stackCheckpoint(opts.stack, env), stackConfig(opts.stack, env)]);
    const state = { stack: opts.stack, checkpoint, config };
    const rows = await ringStatus(state);
    const rollouts = await ringRollouts(state, rows);
    const only = rollouts.length === 0 ? `no rollout under way or stopped in ${opts.stack}` : rollouts.map((r) => [r.lines[0], ...r.lines.slice(1).map((l) => `  ${l}`)].join('\n')).join('\n\n');
    const text = opts.rollouts ? only : opts.json ? JSON.stringify(rows, null, 2) : statusText(opts.stack, rows, rollouts);
    process.exitCode = !opts.rollouts && rows.some((r) => !r.converged) ? NOT_CONVERGED_EXIT : 0;
    if (text === previous) break;
    console.log(text);
    previous = text;
    if (!watch || round + 1 >= watch.atMost) break;
    await new Promise((resolve) => setTimeout(resolve, watch.everyMs));
  }
}
