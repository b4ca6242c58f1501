// Benchmark: an emulator holding 100,000 devices; times a filtered, paged inventory search and
// a 10,000-device deployment creation over HTTP. Prints a markdown table.
// Run: npm run bench:emulator
import { performance } from 'node:perf_hooks';
import { startEmulator, World } from '../emulator';

const DEVICES = 100_000;
const DEPLOY_DEVICES = 10_000;
const RUNS = 5;
const TOKEN = 'bench-token';

function uuid(i: number): string {
  const hex = i.toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${hex}`;
}

function world(): World {
  const branches = ['canary', 'beta', 'stable', 'stable', 'stable'];
  return {
    artifacts: [
      { name: 'pi4-2026.10', device_types: ['pi4-v3-arm64'] },
      { name: 'pi4-2026.11', device_types: ['pi4-v3-arm64'] },
    ],
    devices: Array.from({ length: DEVICES }, (_, i) => ({
      id: uuid(i),
      device_type: i % 10 === 0 ? 'bbb-armhf' : 'pi4-v3-arm64',
      artifact_name: 'pi4-2026.10',
      attributes: { subscribed_branch: branches[i % branches.length], site: `site-${i % 97}` },
    })),
    tokens: [TOKEN],
    users: [],
  };
}

async function time(label: string, fn: () => Promise<void>): Promise<{ label: string; median: number; max: number }> {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return { label, median: samples[Math.floor(samples.length / 2)], max: samples[samples.length - 1] };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  // Devices poll once a minute, so the simulation stays out of the measurements.
  const emu = await startEmulator({ world: world(), timing: { pollIntervalMs: 60_000, stepMs: 60_000 } });
  const startMs = performance.now() - t0;
  const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
  const post = async (path: string, body: unknown, want: number): Promise<Response> => {
    const res = await fetch(emu.url + path, { method: 'POST', headers, body: JSON.stringify(body) });
    if (res.status !== want) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return res;
  };
  try {
    let total = '';
    const search = await time('filtered, paged inventory search (3 filters + sort, page 5 of 50)', async () => {
      const res = await post(
        '/api/management/v2/inventory/filters/search',
        {
          page: 5,
          per_page: 50,
          filters: [
            { scope: 'inventory', attribute: 'device_type', type: '$eq', value: 'pi4-v3-arm64' },
            { scope: 'inventory', attribute: 'subscribed_branch', type: '$in', value: ['canary', 'beta'] },
            { scope: 'inventory', attribute: 'artifact_name', type: '$ne', value: 'pi4-2026.11' },
          ],
          sort: [{ scope: 'inventory', attribute: 'site', order: 'asc' }],
          attributes: [{ scope: 'inventory', attribute: 'artifact_name' }],
        },
        200,
      );
      total = res.headers.get('x-total-count') ?? '';
      await res.json();
    });
    const ids = Array.from({ length: DEPLOY_DEVICES }, (_, i) => uuid(i * 10 + 1));
    let n = 0;
    const deploy = await time(`deployment creation for ${DEPLOY_DEVICES.toLocaleString('en')} devices`, async () => {
      await post('/api/management/v1/deployments/deployments', { name: `bench ${n++}`, artifact_name: 'pi4-2026.11', devices: ids }, 201);
    });
    const rows = [search, deploy];
    console.log(`Emulator with ${DEVICES.toLocaleString('en')} devices (started in ${(startMs / 1000).toFixed(1)} s; search matched ${total} devices); ${RUNS} runs each, over HTTP on 127.0.0.1.\n`);
    console.log('| Operation | Median | Max |');
    console.log('|---|---:|---:|');
    for (const r of rows) console.log(`| ${r.label} | ${r.median.toFixed(1)} ms | ${r.max.toFixed(1)} ms |`);
  } finally {
    await emu.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
