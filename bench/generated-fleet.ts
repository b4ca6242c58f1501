// The generated fleet of the benchmarks (bench/fleet.ts) and of the tests that need a large
// one (test/program/fleet-plan.test.ts): fleet files of N devices and a matching emulator world.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import type { World } from '../emulator';

const repoRoot = path.resolve(__dirname, '..');

export const DEVICE_TYPES = [
  { type: 'pi4-v3-arm64', short: 'pi4' },
  { type: 'pi3-arm64', short: 'pi3' },
  { type: 'pi2-armhf', short: 'pi2' },
  { type: 'iot-gate-imx8', short: 'iot-gate-imx8' },
  { type: 'var-som-mx8m-nano-arm64-v2', short: 'var-som-mx8m-nano' },
];
const SITES = ['north', 'south'];
export const oldImage = (short: string) => `2026-10-05-${short}-bookworm`;
export const newImage = (short: string) => `2026-11-02-${short}-bookworm`;
/** An image no device runs yet: the benchmark's image change. */
export const nextImage = (short: string) => `2026-12-01-${short}-bookworm`;

export function deviceId(i: number): string {
  const h = createHash('sha256').update(`bench-device-${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface GeneratedFleet {
  world: World;
  configured: number;
  gitCanary: number;
  deviceCanary: number;
  outdated: number;
}

/**
 * Writes inventory.yml, group_vars/ (all.yml with an os_image per device type, one file per
 * site group), host_vars/ for a third of the devices (a configuration template and parameters;
 * one in ten of those also moves to canary in Git; none with `configure: false`) and templates/;
 * returns the matching world: 80 % of the devices on last month's image, one in ten reporting
 * subscribed_branch canary.
 */
export interface FleetShape {
  /** Write host_vars with configurations at all (default true). */
  configure?: boolean;
  /** Every n-th device is configured (default 3: a third). */
  configureEvery?: number;
  /** One ring: every device follows canary, and none is moved by Git or by itself (default: two rings). */
  oneRing?: boolean;
}

export function generateFleet(size: number, dir: string, token: string, options: FleetShape = {}): GeneratedFleet {
  const every = options.configureEvery ?? 3;
  for (const sub of ['group_vars', 'host_vars', 'templates']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
  const groups = new Map<string, string[]>();
  const world: World = {
    artifacts: DEVICE_TYPES.flatMap((t) => [oldImage(t.short), newImage(t.short), nextImage(t.short)].map((name) => ({ name, device_types: [t.type] }))),
    devices: [],
    tokens: [token],
    users: [],
  };
  const counts = { configured: 0, gitCanary: 0, deviceCanary: 0, outdated: 0 };
  for (let i = 0; i < size; i++) {
    const id = deviceId(i);
    const t = DEVICE_TYPES[i % DEVICE_TYPES.length];
    // k numbers the devices of one type, so every type has devices in both rings and outdated
    // ones in canary (production's promotion gate wants each image finished on canary first).
    const k = Math.floor(i / DEVICE_TYPES.length);
    const site = SITES[k % SITES.length];
    const group = `${t.short.replace(/-/g, '_')}_${site}`;
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group)!.push(id);

    const outdated = k % 5 !== 0;
    const reportsCanary = !options.oneRing && k % 10 === 7;
    counts.outdated += outdated ? 1 : 0;
    counts.deviceCanary += reportsCanary ? 1 : 0;
    world.devices.push({
      id,
      device_type: t.type,
      artifact_name: outdated ? oldImage(t.short) : newImage(t.short),
      attributes: { site, ...(reportsCanary ? { subscribed_branch: 'canary' } : {}) },
    });

    if (options.configure !== false && i % every === 0) {
      counts.configured++;
      const gitCanary = !options.oneRing && k % 10 === 3;
      counts.gitCanary += gitCanary ? 1 : 0;
      const runner = t.short === 'pi4' && i % 2 === 0;
      const host = {
        ...(gitCanary ? { subscribed_branch: 'canary' } : {}),
        configuration: runner
          ? { template: 'github-runner.json', parameters: { runner_labels: ['pi4', 'arm64', site] } }
          : { template: 'kiosk.json', parameters: { kiosk_url: `https://www.get-edi.io/kiosk/${i % 50}` } },
      };
      fs.writeFileSync(path.join(dir, 'host_vars', `${id}.yml`), `---\n${stringify(host)}`);
    }
  }

  const inventory = { all: { children: Object.fromEntries([...groups].map(([g, ids]) => [g, { hosts: Object.fromEntries(ids.map((id) => [id, null])) }])) } };
  fs.writeFileSync(path.join(dir, 'inventory.yml'), stringify(inventory));
  const all = {
    mender_server: 'https://hosted.mender.io',
    subscribed_branch: options.oneRing ? 'canary' : 'production',
    os_image: DEVICE_TYPES.map((t) => ({ device_type: t.type, image_name: newImage(t.short) })),
    kiosk_url: 'https://www.get-edi.io',
  };
  fs.writeFileSync(path.join(dir, 'group_vars', 'all.yml'), `---\n${stringify(all)}`);
  for (const g of groups.keys()) {
    fs.writeFileSync(path.join(dir, 'group_vars', `${g}.yml`), `---\n${stringify({ kiosk_rotation: g.endsWith('_north') ? 90 : 0 })}`);
  }
  for (const template of ['kiosk.json', 'github-runner.json']) {
    fs.copyFileSync(path.join(repoRoot, 'fleet', 'templates', template), path.join(dir, 'templates', template));
  }
  return { world, ...counts };
}
