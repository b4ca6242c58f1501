import * as path from 'node:path';
import { startEmulator } from '../emulator';
import { createMenderClient } from '../provider/mender';
import { CommandError, Stack } from '@pulumi/pulumi/automation';
import { LOCAL_DEMO_PASSPHRASE, repoRoot, ringStack } from './workspace';
import { appliedDevices, DeviceStatus, fleetStatus, statusTable } from './status';

const TOKEN = 'demo-personal-access-token';
const RINGS = ['canary', 'production'];

const MUTATING = (r: { method: string; path: string }) =>
  r.method !== 'GET' && !(r.method === 'POST' && /\/inventory\/filters\/search$|\/useradm\/auth\/login$/.test(r.path));

/** Where the demo keeps its Pulumi state by default: the repository's local backend. */
export const DEMO_STATE_DIR = path.join(repoRoot, '.pulumi-state');

/**
 * The shell's variables that choose a Pulumi backend and its secrets. Pulumi users often export
 * them for their own projects; the demo uses none of them, so it never creates its stacks in
 * their backend (a team's bucket or organisation) nor fails on their passphrase.
 */
export const SHELL_BACKEND_VARIABLES = ['PULUMI_BACKEND_URL', 'PULUMI_CONFIG_PASSPHRASE', 'PULUMI_CONFIG_PASSPHRASE_FILE', 'PULUMI_ACCESS_TOKEN'] as const;

export interface DemoEnv {
  /** The environment of the demo's engine: the shell's, with its own backend and passphrase. */
  env: NodeJS.ProcessEnv;
  /** The shell's backend variables that were set, and are not used. */
  ignored: string[];
  /** The line that says so. */
  notice: string;
}

/**
 * The demo's environment: a local file backend of its own (`stateDir`) and the local demo
 * passphrase (the one the stack files' salt is for), whatever the shell's backend variables say.
 */
export function demoEnv(shell: NodeJS.ProcessEnv, stateDir: string = DEMO_STATE_DIR): DemoEnv {
  const env: NodeJS.ProcessEnv = { ...shell };
  const ignored = SHELL_BACKEND_VARIABLES.filter((k) => shell[k] !== undefined && shell[k] !== '');
  for (const k of SHELL_BACKEND_VARIABLES) delete env[k];
  env.PULUMI_BACKEND_URL = `file://${stateDir}`;
  env.PULUMI_CONFIG_PASSPHRASE = LOCAL_DEMO_PASSPHRASE;
  const shown = path.relative(repoRoot, stateDir).startsWith('..') ? stateDir : `${path.relative(repoRoot, stateDir)}/`;
  const notice =
    `demo: Pulumi state in ${shown} (a local backend of its own, with the local demo passphrase)` +
    (ignored.length > 0 ? `; your ${ignored.join(', ')} ${ignored.length > 1 ? 'are' : 'is'} left alone` : '');
  return { env, ignored, notice };
}

/** The command that shows the demo's updates afterwards, in the shell the demo ran from. */
export function historyCommand(demo: DemoEnv, stateDir: string = DEMO_STATE_DIR): string {
  const command = 'npm run pulumi -- stack history --stack canary';
  if (path.resolve(stateDir) !== DEMO_STATE_DIR) {
    return `env -u PULUMI_CONFIG_PASSPHRASE_FILE PULUMI_BACKEND_URL=${demo.env.PULUMI_BACKEND_URL} PULUMI_CONFIG_PASSPHRASE=${LOCAL_DEMO_PASSPHRASE} ${command}`;
  }
  // Without them scripts/pulumi takes .pulumi-state/ and the demo passphrase, as the demo did.
  const unset = demo.ignored.filter((k) => k !== 'PULUMI_ACCESS_TOKEN');
  return unset.length > 0 ? `env ${unset.map((k) => `-u ${k}`).join(' ')} ${command}` : command;
}

function banner(text: string) {
  console.log(`\n=== ${text} ${'='.repeat(Math.max(0, 80 - text.length))}`);
}

/**
 * The README's first command: the example fleet (fleet/) applied ring by ring to the bundled
 * emulator seeded with demo/world.yaml, then a second up that must change nothing.
 */
export async function runDemo(options: { world: string; stateDir?: string; env?: NodeJS.ProcessEnv }): Promise<number> {
  const stateDir = options.stateDir ?? DEMO_STATE_DIR;
  const demo = demoEnv(options.env ?? process.env, stateDir);
  console.log(demo.notice);
  const emulator = await startEmulator({ world: options.world, port: 0, timing: { pollIntervalMs: 200, stepMs: 150 } });
  console.log(`Mender emulator listening on ${emulator.url} (world: ${path.relative(repoRoot, options.world)})`);
  const env = { ...demo.env, MENDER_SERVER_URL: emulator.url, MENDER_ACCESS_TOKEN: TOKEN };
  const client = createMenderClient({ serverUrl: emulator.url, token: TOKEN });
  const requestLog = async () => (await (await fetch(`${emulator.url}/__emulator/requests`)).json()) as { method: string; path: string }[];
  const failures: string[] = [];
  const statuses: DeviceStatus[] = [];
  // The engine's own progress, shown as it comes; the outcome is read from the typed result.
  const output = { onOutput: (text: string) => process.stdout.write(text), onError: (text: string) => process.stderr.write(text) };
  const attempt = async <T>(what: string, run: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await run();
    } catch (error) {
      // The Automation API's CommandError holds the CLI's output, already shown as it came.
      failures.push(error instanceof CommandError ? `${what} failed (see the engine's output above)` : `${what} failed: ${(error as Error).message}`);
      return undefined;
    }
  };
  try {
    for (const ring of RINGS) {
      banner(`ring ${ring}: preview`);
      const stack = await ringStack(ring, env, { create: true });
      // The emulator starts afresh on every demo run: refresh first, so the plan is measured
      // against this server and not against what an earlier run left in the state.
      if (!(await attempt(`preview of ${ring}`, () => stack.preview({ refresh: true, ...output })))) continue;
      banner(`ring ${ring}: up`);
      if (!(await attempt(`up of ${ring}`, () => stack.up({ refresh: true, message: `demo: apply ${ring}`, ...output })))) continue;
      const devices = await appliedDevices(ring, env);
      if (!devices) {
        failures.push(`the stack ${ring} has no devices output after its up`);
        continue;
      }
      const rows = await fleetStatus(client, devices);
      statuses.push(...rows);
      banner(`ring ${ring}: status`);
      console.log(statusTable(rows));
    }

    banner('second up of every ring: nothing to do');
    await fetch(`${emulator.url}/__emulator/requests`, { method: 'DELETE' });
    for (const ring of RINGS) {
      const stack: Stack = await ringStack(ring, env);
      const again = await attempt(`second up of ${ring}`, () => stack.up({ message: `demo: re-apply ${ring}`, ...output }));
      const changed = Object.entries(again?.summary.resourceChanges ?? {}).filter(([op, n]) => op !== 'same' && (n ?? 0) > 0);
      if (changed.length > 0) failures.push(`second up of ${ring} changed something: ${changed.map(([op, n]) => `${n} ${op}`).join(', ')}`);
    }
    const changes = (await requestLog()).filter(MUTATING);
    console.log(`mutating requests to Mender during the second up: ${changes.length}`);
    if (changes.length > 0) failures.push(`the second up sent ${changes.length} mutating request(s): ${changes.map((r) => `${r.method} ${r.path}`).join(', ')}`);
  } finally {
    client.close();
    await emulator.close();
  }

  const stragglers = statuses.filter((s) => !s.converged);
  for (const s of stragglers) failures.push(`device ${s.id} (${s.ring}) runs ${s.runningImage}, wants ${s.desiredImage}; configuration ${s.configuration}`);
  banner('result');
  if (failures.length > 0 || statuses.length === 0) {
    console.log(`demo FAILED:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    return 1;
  }
  console.log(`all ${statuses.length} devices of ${RINGS.join(' and ')} converged; the second up changed nothing.`);
  console.log(`The updates are in the local state: ${historyCommand(demo, stateDir)}`);
  return 0;
}
