// The fleet program through the real engine against the emulator behaving as mender-server
// does (test/emulator/fidelity.test.ts names the source of each behaviour): devices poll only
// every 30 s (simulated; the clock runs 200 times faster), one of them not at all until later,
// device deployments are made when devices poll, configuration deployments appear only after
// Mender's workflows service ran, and a deployment left unable to finish is on the server. One
// `up` converges the ring; a second sends no mutating request; no device gets a deployment for
// the artifact it already runs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseWorld, World } from '../../emulator';
import { EmulatorHandle, emulatorFor, mutating, ApiDeployment } from '../helpers/emulator';
import { pulumiWorkspace, PulumiWorkspace, repoRoot } from '../helpers/pulumi';
import { step } from '../helpers/step';
import { deploymentName } from '../../provider/mender-deployment';

const TOKEN = 'demo-personal-access-token';
const DEPLOYMENTS = '/api/management/v1/deployments/deployments';
const PI2 = '048312b5-0456-47a7-9e83-b636f4c0a689'; // canary by its own report
const PI3 = '50a28c2e-3ee8-4559-a5b9-3ce47c881c5d'; // canary; polls for the first time ten hours in
const PI4 = '3fb4632b-96b9-475d-ac89-02255bd15b6f'; // canary, configured from kiosk.json
const IMX8 = '5ef8c955-4f87-4243-adcd-160f70c3c45e'; // canary, release candidate
const NANO = 'ed531b64-5108-4f1d-9879-f39f56054078'; // production
const RC1 = '2026-11-20-iot-gate-imx8-bookworm-arm64-rc1';
const LATE = 10 * 3600_000;

function world(): World {
  const w = parseWorld(fs.readFileSync(path.join(repoRoot, 'demo', 'world.yaml'), 'utf8'), 'demo/world.yaml');
  w.devices = w.devices.map((d) => {
    if (d.id === PI2) return { ...d, artifact_name: '2026-11-02-pi2-bookworm-armhf' }; // already runs its image
    if (d.id === PI3 || d.id === IMX8) return { ...d, behavior: { first_poll_after_ms: LATE } };
    return d;
  });
  return w;
}

// The OS image's own provide: a configuration deployment leaves it (artifact_name becomes
// configuration-<id>, as with the real client); in this world each image provides its name.
async function running(emu: EmulatorHandle, id: string): Promise<string | undefined> {
  const d = await emu.api<{ attributes: { name: string; value: string; scope: string }[] }>('GET', `/api/management/v1/inventory/devices/${id}`);
  return d.attributes.find((a) => a.scope === 'inventory' && a.name === 'rootfs-image.version')?.value;
}
const history = (emu: EmulatorHandle, id: string) =>
  emu.api<{ deployment: { id: string; name: string; type?: string }; device: { status: string } }[]>('GET', `${DEPLOYMENTS}/devices/${id}`);

describe('the fleet program against Mender as it really behaves', () => {
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let stuck: string;
  let byHand: string;

  beforeAll(async () => {
    emu = await emulatorFor(world(), TOKEN, { pollIntervalMs: 30_000, stepMs: 5_000, workflowDelayMs: 20_000, tickMs: 10, speed: 200 });
    ws = pulumiWorkspace();
    Object.assign(ws.env, { PULUMI_CONFIG_PASSPHRASE: 'mender-fleet-local-demo', MENDER_SERVER_URL: emu.emulator.url, MENDER_ACCESS_TOKEN: TOKEN });
    await ws.ok(['stack', 'init', 'canary']);

    // An older deployment made by hand lists PI3 (which has not polled) and a production device.
    byHand = String(
      (await fetch(`${emu.emulator.url}${DEPLOYMENTS}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'by hand', artifact_name: '2026-10-05-pi3-bookworm-arm64', devices: [PI3, NANO], force_installation: true }),
      })).headers.get('location'),
    ).split('/').pop()!;
    // A deployment of this ring for the release candidate that a per-device abort left unable to
    // finish: IMX8 has an aborted record the statistics do not count.
    await emu.api('POST', DEPLOYMENTS, { name: deploymentName('canary', RC1, [IMX8]), artifact_name: RC1, devices: [IMX8] });
    stuck = (await emu.api<ApiDeployment[]>('GET', `${DEPLOYMENTS}?per_page=100`)).find((d) => d.artifact_name === RC1)!.id;
    await emu.api('DELETE', `${DEPLOYMENTS}/devices/${IMX8}`);
  });

  afterAll(async () => {
    await ws?.run(['stack', 'rm', 'canary', '--yes', '--force', '--preserve-config']);
    ws?.dispose();
    await emu?.emulator.close();
  });

  it('one up converges the ring as Mender behaves, and a second changes nothing', async () => {
    await step('converges the ring with one up', async () => {
      expect((await emu.api<ApiDeployment>('GET', `${DEPLOYMENTS}/${stuck}`)).status).toBe('pending');
      await emu.clearRequests();
      const up = ws.ok(['up', '--yes', '--skip-preview', '--stack', 'canary']);
      // Once the ring's deployments for the late devices exist, ten (simulated) hours pass and
      // the late devices poll for the first time.
      const names = [deploymentName('canary', '2026-11-02-pi3-bookworm-arm64', [PI3]), deploymentName('canary', RC1, [IMX8])];
      const deadline = Date.now() + 300_000;
      for (;;) {
        const made = (await emu.api<ApiDeployment[]>('GET', `${DEPLOYMENTS}?per_page=100`)).filter((d) => names.includes(d.name) && d.id !== stuck);
        if (made.length === names.length) break;
        if (Date.now() > deadline) throw new Error('the ring’s deployments were not created within 300 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      await emu.admin('POST', '/time', { advance_ms: LATE });
      await up;
      expect(await running(emu, PI3)).toBe('2026-11-02-pi3-bookworm-arm64');
      expect(await running(emu, PI4)).toBe('2026-11-02-pi4-bookworm-arm64');
      expect(await running(emu, IMX8)).toBe(RC1);
      // The device's own report (after the workflow made the deployment and the device applied it).
      const config = await emu.api<{ reported: Record<string, string> }>('GET', `/api/management/v1/deviceconfig/configurations/device/${PI4}`);
      expect(config.reported).toMatchObject({ kiosk_url: 'https://www.get-edi.io/documentation' });
    });
    await step('took PI3 out of the older deployment instead of letting it install that first', async () => {
      const h = (await history(emu, PI3)).filter((x) => x.deployment.type !== 'configuration');
      expect(h.map((x) => [x.deployment.name, x.device.status])).toEqual([
        [deploymentName('canary', '2026-11-02-pi3-bookworm-arm64', [PI3]), 'success'],
        ['by hand', 'aborted'],
      ]);
      // The production device of that deployment was not touched by the canary ring.
      expect((await history(emu, NANO)).map((x) => x.deployment.id)).toEqual([byHand]);
    });
    await step('aborted the deployment that could not finish and deployed the release candidate anew', async () => {
      const rc1 = (await emu.api<ApiDeployment[]>('GET', `${DEPLOYMENTS}?per_page=100`)).filter((d) => d.artifact_name === RC1);
      expect(rc1).toHaveLength(2);
      expect(rc1.find((d) => d.id === stuck)!.status).toBe('finished');
      expect(rc1.find((d) => d.id !== stuck)!.status).toBe('finished');
      expect((await history(emu, IMX8))[0].device.status).toBe('success');
    });
    await step('sent no deployment to the device that already ran its image', async () => {
      expect(await history(emu, PI2)).toEqual([]);
    });
    await step('does nothing on a second up, and a refreshing up only reads', async () => {
      await emu.clearRequests();
      const { stdout } = await ws.ok(['up', '--yes', '--skip-preview', '--stack', 'canary']);
      expect(stdout).toMatch(/11 unchanged/);
      const refreshed = await ws.ok(['up', '--yes', '--skip-preview', '--refresh', '--stack', 'canary']);
      expect(refreshed.stdout).toMatch(/11 unchanged/);
      expect(mutating(await emu.requests())).toEqual([]);
    });
  }, 1_200_000);
});
