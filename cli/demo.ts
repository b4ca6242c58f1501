import * as path from 'node:path';
import { Command } from 'commander';
import { startEmulator } from '../emulator';
import { createMenderClient } from '../provider/mender';
import { runPulumi, repoRoot } from './pulumi-runner';
import { appliedDevices, DeviceStatus, fleetStatus, statusTable } from './status';

const TOKEN = 'demo-personal-access-token';
const RINGS = ['canary', 'production'];

const MUTATING = (r: { method: string; path: string }) =>
  r.method !== 'GET' && !(r.method === 'POST' && /\/inventory\/filters\/search$|\/useradm\/auth\/login$/.test(r.path));

function banner(text: string) {
  console.log(`\n=== ${text} ${'='.repeat(Math.max(0, 80 - text.length))}`);
}

/**
 * The README's first command: the example fleet (fleet/) applied ring by ring to the bundled
 * emulator seeded with demo/world.yaml, then a second up that must change nothing.
 */
export async function runDemo(options: { world: string }): Promise<number> {
  const emulator = await startEmulator({ world: options.world, port: 0, timing: { pollIntervalMs: 200, stepMs: 150 } });
  console.log(`Mender emulator listening on ${emulator.url} (world: ${path.relative(repoRoot, options.world)})`);
  const env = { ...process.env, MENDER_SERVER_URL: emulator.url, MENDER_ACCESS_TOKEN: TOKEN };
  const client = createMenderClient({ serverUrl: emulator.url, token: TOKEN });
  const requestLog = async () => (await (await fetch(`${emulator.url}/__emulator/requests`)).json()) as { method: string; path: string }[];
  const failures: string[] = [];
  const statuses: DeviceStatus[] = [];
  try {
    for (const ring of RINGS) {
      banner(`ring ${ring}: preview`);
      await runPulumi(['stack', 'select', ring, '--create'], env, { quiet: true });
      // The emulator starts afresh on every demo run: refresh first, so the plan is measured
      // against this server and not against what an earlier run left in the state.
      const preview = await runPulumi(['preview', '--refresh', '--stack', ring], env);
      if (preview.code !== 0) {
        failures.push(`preview of ${ring} failed`);
        continue;
      }
      banner(`ring ${ring}: up`);
      const up = await runPulumi(['up', '--yes', '--refresh', '--stack', ring, '--message', `demo: apply ${ring}`], env);
      if (up.code !== 0) {
        failures.push(`up of ${ring} failed`);
        continue;
      }
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
      const again = await runPulumi(['up', '--yes', '--stack', ring, '--message', `demo: re-apply ${ring}`], env);
      if (again.code !== 0) failures.push(`second up of ${ring} failed`);
      else if (/\b(created|updated|deleted|replaced)\b/.test(again.output.split('Resources:')[1] ?? '')) failures.push(`second up of ${ring} changed something`);
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
  console.log('The updates are in the local state: npm run pulumi -- stack history --stack canary');
  return 0;
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('apply the example fleet to the bundled Mender emulator, ring by ring')
    .option('--world <file>', 'the emulator world', path.join(repoRoot, 'demo', 'world.yaml'))
    .action(async (opts: { world: string }) => {
      process.exitCode = await runDemo({ world: path.resolve(opts.world) });
    });
}
