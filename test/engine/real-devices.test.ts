// The fleet program through the real engine, with real devices: three Debian mender-client 3.4
// daemons (test/helpers/mender-daemon.ts) play the devices of one ring against the emulator,
// each with its own --config and --data and one identity script reading its MAC from the
// environment. The images are module-image artifacts written with the real mender-artifact for
// the test's own update module (fleet-test-image: a file standing for the OS, a failure or a
// stalled download on chosen devices, each held until the test, having seen what it stands for,
// opens its gate); configurations reach them as mender-configure artifacts, applied by the
// test's stand-in of the mender-configure module and reported by the stand-in of its inventory
// script. What the engine and the fleet CLI say is checked against what the daemons hold in
// their own data (mender show-provides) and wrote in their work directories.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { World } from '../../emulator';
import { ApiDeployment, EmulatorHandle, emulatorFor, LoggedRequest, mutating } from '../helpers/emulator';
import { writeWithMenderArtifact } from '../helpers/mender-artifact-tool';
import { CLIENT_FILES_WAIT_MS, clientUnavailable, IMAGE_MODULE_TYPE, ImageMetaData, INITIAL_ARTIFACT, installClientFiles, MenderDaemon, REBOOT_MODULE_TYPE, startDaemon } from '../helpers/mender-daemon';
import { pulumiWorkspace, PulumiWorkspace, repoRoot, fleetCli } from '../helpers/pulumi';
import { step } from '../helpers/step';
import { MenderClient } from '../../provider/mender';
import { runningImages } from '../../provider/mender/observed';

const TOKEN = 'real-devices-token-23b';
const DEVICE_TYPE = 'fleet-real-x86';
const STACK = 'canary';

interface Device {
  id: string;
  mac: string;
  kioskUrl: string;
}
const DEVICES: readonly Device[] = [1, 2, 3].map((n) => ({
  id: `2323${n}${n}${n}${n}-0000-4000-8000-00000000230${n}`,
  mac: `52:54:00:fe:23:0${n}`,
  kioskUrl: `https://example.org/kiosk-${n}`,
}));
const [A, B, C] = DEVICES;

/** The images, one per step, with what the fleet-test-image module does with each. */
const IMAGE_1 = 'real-2026.1';
const IMAGE_2 = 'real-2026.2';
/**
 * Fails on C once the others installed it (C's gate opens when the server has A's and B's
 * success): the deployment finishes with one failure.
 */
const IMAGE_BROKEN = 'real-2026.3-broken-on-c';
const BROKEN_FAIL_GATE = 'broken-may-fail';
/** Through the helper's module that asks for a reboot. */
const IMAGE_REBOOT = 'real-2026.4-reboot';
/**
 * Fails on C once A and B sit in their Download state (C's gate), which they hold until the test
 * saw the provider abort the deployment (their gate): the provider aborts it mid-download.
 */
const IMAGE_ABORTED = 'real-2026.5-aborted';
const ABORTED_FAIL_GATE = 'aborted-may-fail';
const ABORTED_DOWNLOAD_GATE = 'aborted-may-download';

/** The daemons generate a 3072-bit key, authenticate and poll each second: allow for a busy machine. */
const SLOW = 120_000;

const DEPLOYMENTS = '/api/management/v1/deployments/deployments';
/** Software deployments created (a configuration deployment goes through deviceconfig). */
const softwareDeploymentsCreated = (requests: LoggedRequest[]) => requests.filter((r) => r.method === 'POST' && r.path === DEPLOYMENTS);
/** What the engine changed: the daemons themselves keep authenticating, polling and sending inventory. */
const managementMutations = (requests: LoggedRequest[]) => mutating(requests).filter((r) => r.path.startsWith('/api/management/'));

function fleetFiles(opts: { image: string; timezone: string }): Record<string, string> {
  return {
    'inventory.yml': ['all:', '  children:', '    real:', '      hosts:', ...DEVICES.map((d) => `        ${d.id}:`), ''].join('\n'),
    'group_vars/all.yml': ['subscribed_branch: canary', 'os_image:', `  - device_type: ${DEVICE_TYPE}`, `    image_name: ${opts.image}`, ''].join('\n'),
    'group_vars/real.yml': ['configuration:', '  template: kiosk.json', `timezone: ${opts.timezone}`, ''].join('\n'),
    ...Object.fromEntries(DEVICES.map((d) => [`host_vars/${d.id}.yml`, `kiosk_url: ${d.kioskUrl}\n`])),
    'templates/kiosk.json': '{\n  "kiosk_url": "{{ kiosk_url }}",\n  "timezone": "{{ timezone }}"\n}\n',
  };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = SLOW): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('a ring of real mender daemons', () => {
  let ws: PulumiWorkspace;
  let emu: EmulatorHandle;
  let work: string;
  let fleetDir: string;
  let restoreClientFiles: (() => void) | undefined;
  const daemons = new Map<string, MenderDaemon>();
  /** The daemons' requests the emulator refused, from every request log the scenario clears. */
  const deviceErrors: LoggedRequest[] = [];
  const keepDeviceErrors = async () => deviceErrors.push(...(await emu.requests()).filter((r) => r.path.startsWith('/api/devices/') && r.status >= 400));
  const clearRequests = async () => {
    await keepDeviceErrors();
    await emu.clearRequests();
  };
  const daemon = (d: Device): MenderDaemon => daemons.get(d.id)!;

  const writeFleet = (opts: { image: string; timezone: string }) => {
    for (const [name, text] of Object.entries(fleetFiles(opts))) {
      fs.mkdirSync(path.dirname(path.join(fleetDir, name)), { recursive: true });
      fs.writeFileSync(path.join(fleetDir, name), text);
    }
  };
  const configFile = () => {
    const file = path.join(work, `Pulumi.${STACK}.yaml`);
    const salt = /^encryptionsalt: .*$/m.exec(fs.readFileSync(path.join(repoRoot, 'Pulumi.canary.yaml'), 'utf8'))![0];
    fs.writeFileSync(
      file,
      ['config:', `  fleet:branch: ${STACK}`, '  fleet:pollMilliseconds: 1000', '  fleet:rolloutTimeoutSeconds: 180', '  fleet:maxFailurePercent: 0', salt, ''].join('\n'),
    );
    return file;
  };
  const up = (message: string) => ws.run(['up', '--yes', '--skip-preview', '--stack', STACK, '--config-file', configFile(), '--message', message]);
  const upOk = async (message: string) => {
    const result = await up(message);
    if (result.code !== 0) throw new Error(`pulumi up (${message}) exited ${result.code}\n${result.stdout}\n${result.stderr}\n${daemonLogs()}`);
    return result;
  };
  /**
   * An up while `during` watches the devices and opens their modules' gates. `upEnded` tells
   * `during` that the up finished first (its waits then give up rather than time out); the up's
   * result comes once both are done, `during`'s error first.
   */
  const upWhile = async (message: string, during: (upEnded: () => boolean) => Promise<void>) => {
    let ended = false;
    const running = up(message).finally(() => {
      ended = true;
    });
    let failed: unknown;
    try {
      await during(() => ended);
    } catch (err) {
      failed = err;
    }
    const result = await running;
    if (failed instanceof Error) failed.message += `\n--- pulumi up (${message}) exited ${result.code} ---\n${result.stdout}\n${result.stderr}`;
    if (failed !== undefined) throw failed;
    return result;
  };
  /** Waits for `probe` while an up runs (upWhile), failing at once if the up ended first. */
  const waitDuringUp = (what: string, upEnded: () => boolean, probe: () => Promise<boolean> | boolean) =>
    waitFor(what, async () => {
      if (await probe()) return true;
      if (upEnded()) throw new Error(`the up ended before ${what}`);
      return undefined;
    });
  /** Each device's status in the deployment of `artifact` ({} before it exists). */
  const deviceStatuses = async (artifact: string): Promise<Record<string, string>> => {
    const [deployment] = (await emu.api<ApiDeployment[]>('GET', `${DEPLOYMENTS}?per_page=100`)).filter((dep) => dep.artifact_name === artifact);
    if (!deployment) return {};
    const devices = await emu.api<{ id: string; status: string }[]>('GET', `${DEPLOYMENTS}/${deployment.id}/devices`);
    return Object.fromEntries(devices.map((d) => [d.id, d.status]));
  };
  /** The end of every daemon's log, for a failure's message. */
  const daemonLogs = () =>
    DEVICES.map((d) => `--- daemon of ${d.id} (${d.mac}) ---\n${daemons.get(d.id)?.log().split('\n').slice(-25).join('\n') ?? '(not started)'}`).join('\n');
  const withLogs = async <T>(body: () => Promise<T>): Promise<T> => {
    try {
      return await body();
    } catch (err) {
      if (err instanceof Error) err.message += `\n${daemonLogs()}`;
      throw err;
    }
  };
  const inventoryOf = async (id: string): Promise<Record<string, unknown>> => {
    const device = await emu.api<{ attributes: { name: string; value: unknown; scope: string }[] }>('GET', `/api/management/v1/inventory/devices/${id}`);
    return Object.fromEntries(device.attributes.filter((a) => a.scope === 'inventory').map((a) => [a.name, a.value]));
  };
  const reportedOf = async (id: string) =>
    (await emu.api<{ configured: Record<string, string>; reported: Record<string, string> }>('GET', `/api/management/v1/deviceconfig/configurations/device/${id}`)).reported;
  /** The OS image of every device as the project tells it (observed.ts). */
  const running = async (): Promise<Record<string, string | undefined>> => {
    const client = new MenderClient({ serverUrl: emu.emulator.url, token: TOKEN });
    try {
      return Object.fromEntries(await runningImages(client, DEVICES.map((d) => d.id)));
    } finally {
      client.close();
    }
  };
  const everyDevice = (image: string) => Object.fromEntries(DEVICES.map((d) => [d.id, image]));
  /** What the device's module installed, and what the client holds as installed (its data dir). */
  const installedOn = (d: Device) => ({
    file: fs.readFileSync(path.join(daemon(d).workDir, 'image.txt'), 'utf8').trim(),
    provides: daemon(d).showProvides()[`rootfs-image.${IMAGE_MODULE_TYPE}.version`],
  });
  const imageLog = (d: Device) => {
    const file = path.join(daemon(d).workDir, 'image.log');
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : [];
  };
  const expectedConfiguration = (d: Device, timezone: string) => ({ kiosk_url: d.kioskUrl, timezone });
  const fleetStatus = async () => {
    const status = await fleetCli(['status', '--stack', STACK, '--json'], ws.env);
    if (status.code !== 0) throw new Error(`fleet status exited ${status.code}\n${status.stdout}\n${status.stderr}`);
    return (JSON.parse(status.stdout) as { id: string; runningImage: string; configuration: string; converged: boolean }[]).map((r) => [r.id, r.runningImage, r.configuration, r.converged]);
  };

  beforeAll(async () => {
    const why = clientUnavailable();
    if (why) throw new Error(`cannot run the real-device scenario: ${why}`);
    restoreClientFiles = await installClientFiles();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'fleet-real-devices-'));
    const artifacts = path.join(work, 'artifacts');
    fs.mkdirSync(artifacts);
    const imageArtifact = (name: string, metaData?: ImageMetaData) =>
      writeWithMenderArtifact(
        {
          name,
          deviceTypes: [DEVICE_TYPE],
          kind: { type: 'module-image', module: IMAGE_MODULE_TYPE, files: [{ name: 'image.txt', content: `${name}\n` }], metaData },
        },
        artifacts,
      );
    const files: Record<string, string> = {
      [IMAGE_1]: imageArtifact(IMAGE_1),
      [IMAGE_2]: imageArtifact(IMAGE_2),
      [IMAGE_BROKEN]: imageArtifact(IMAGE_BROKEN, { fail_on: C.mac, fail_gate: BROKEN_FAIL_GATE }),
      [IMAGE_REBOOT]: writeWithMenderArtifact(
        { name: IMAGE_REBOOT, deviceTypes: [DEVICE_TYPE], kind: { type: 'module-image', module: REBOOT_MODULE_TYPE, files: [{ name: 'payload.txt', content: 'reboot me\n' }] } },
        artifacts,
      ),
      [IMAGE_ABORTED]: imageArtifact(IMAGE_ABORTED, { fail_on: C.mac, fail_gate: ABORTED_FAIL_GATE, slow_download_on: `${A.mac} ${B.mac}`, download_gate: ABORTED_DOWNLOAD_GATE }),
    };
    const world: World = {
      artifacts: Object.entries(files).map(([name, file]) => ({ name, device_types: [DEVICE_TYPE], file })),
      devices: DEVICES.map((d) => ({ id: d.id, device_type: DEVICE_TYPE, artifact_name: INITIAL_ARTIFACT, identity: { mac: d.mac }, real_client: true })),
      tokens: [TOKEN],
      users: [],
    };
    emu = await emulatorFor(world, TOKEN);
    for (const d of DEVICES) daemons.set(d.id, startDaemon({ serverUrl: emu.emulator.url, mac: d.mac, deviceType: DEVICE_TYPE, inventory: d.id, pollSeconds: 1 }));
    // The world accepts each daemon's identity; its first inventory is the sign that it runs.
    await withLogs(() => Promise.all(DEVICES.map((d) => waitFor(`the daemon of ${d.id} to send its inventory`, async () => ((await inventoryOf(d.id)).fleet_test === d.id ? true : undefined)))));

    ws = pulumiWorkspace();
    fleetDir = path.join(work, 'fleet');
    writeFleet({ image: IMAGE_1, timezone: 'Europe/Oslo' });
    Object.assign(ws.env, { PULUMI_CONFIG_PASSPHRASE: 'mender-fleet-local-demo', MENDER_SERVER_URL: emu.emulator.url, MENDER_ACCESS_TOKEN: TOKEN, FLEET_PATH: fleetDir });
    await ws.ok(['stack', 'init', STACK]);
    // installClientFiles may wait for another test file that has the client's fixed paths.
  }, CLIENT_FILES_WAIT_MS + 300_000);

  afterAll(async () => {
    await ws?.run(['stack', 'rm', STACK, '--yes', '--force', '--preserve-config']);
    ws?.dispose();
    for (const d of daemons.values()) await d.stop();
    await emu?.emulator.close();
    restoreClientFiles?.();
    for (const d of daemons.values()) fs.rmSync(d.dir, { recursive: true, force: true });
    if (work) fs.rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('converges, changes image and configuration, stops on a failed install, reboots, and aborts mid-download', async () => {
    await step('the first up installs the image and applies the configuration on every daemon', () =>
      withLogs(async () => {
        await upOk('first apply');
        for (const d of DEVICES) {
          expect(installedOn(d)).toEqual({ file: IMAGE_1, provides: IMAGE_1 });
          // The stand-in mender-configure module wrote what the configuration artifact carried,
          // and its inventory script reported it.
          expect(JSON.parse(fs.readFileSync(path.join(daemon(d).workDir, 'device-config.json'), 'utf8'))).toEqual(expectedConfiguration(d, 'Europe/Oslo'));
          expect(await reportedOf(d.id)).toEqual(expectedConfiguration(d, 'Europe/Oslo'));
        }
        expect(await running()).toEqual(everyDevice(IMAGE_1));
      }),
    );
    await step('fleet status says every daemon converged', async () => {
      expect(await fleetStatus()).toEqual(DEVICES.map((d) => [d.id, IMAGE_1, 'in sync', true]));
    });
    await step('a second up sends Mender no change', async () => {
      await clearRequests();
      const { stdout } = await upOk('nothing to do');
      expect(stdout).toMatch(/\d+ unchanged/);
      expect(stdout).not.toMatch(/\d+ (to )?(create|update|replace)/);
      expect(managementMutations(await emu.requests())).toEqual([]);
    });

    await step('an image change converges every daemon on the new image', () =>
      withLogs(async () => {
        writeFleet({ image: IMAGE_2, timezone: 'Europe/Oslo' });
        await clearRequests();
        await upOk('new image');
        expect(softwareDeploymentsCreated(await emu.requests())).toHaveLength(1);
        for (const d of DEVICES) expect(installedOn(d)).toEqual({ file: IMAGE_2, provides: IMAGE_2 });
        expect(await running()).toEqual(everyDevice(IMAGE_2));
        expect(await fleetStatus()).toEqual(DEVICES.map((d) => [d.id, IMAGE_2, 'in sync', true]));
      }),
    );

    await step('a configuration change reaches every daemon without a software deployment', () =>
      withLogs(async () => {
        writeFleet({ image: IMAGE_2, timezone: 'UTC' });
        await clearRequests();
        await upOk('new timezone');
        expect(softwareDeploymentsCreated(await emu.requests())).toEqual([]);
        for (const d of DEVICES) {
          expect(JSON.parse(fs.readFileSync(path.join(daemon(d).workDir, 'device-config.json'), 'utf8'))).toEqual(expectedConfiguration(d, 'UTC'));
          expect(await reportedOf(d.id)).toEqual(expectedConfiguration(d, 'UTC'));
          // The client committed the configuration artifact's name (configuration-<id>) and
          // kept the image's provide; the project still tells the image.
          const provides = daemon(d).showProvides();
          expect(provides.artifact_name).toMatch(/^configuration-/);
          expect(provides[`rootfs-image.${IMAGE_MODULE_TYPE}.version`]).toBe(IMAGE_2);
          expect(installedOn(d).file).toBe(IMAGE_2);
        }
        expect(await running()).toEqual(everyDevice(IMAGE_2));
        expect(await fleetStatus()).toEqual(DEVICES.map((d) => [d.id, IMAGE_2, 'in sync', true]));
      }),
    );

    await step('an image that fails to install on one daemon fails the up, naming that device; the others run it', () =>
      withLogs(async () => {
        writeFleet({ image: IMAGE_BROKEN, timezone: 'UTC' });
        // C's module holds its failing ArtifactInstall until the server has A's and B's success.
        const result = await upWhile('broken image', async (upEnded) => {
          try {
            await waitDuringUp(`${A.id} and ${B.id} to report ${IMAGE_BROKEN} installed`, upEnded, async () => {
              const statuses = await deviceStatuses(IMAGE_BROKEN);
              return statuses[A.id] === 'success' && statuses[B.id] === 'success';
            });
          } finally {
            daemon(C).openGate(BROKEN_FAIL_GATE);
          }
        });
        expect(result.code).not.toBe(0);
        const output = result.stdout + result.stderr;
        // fleet:maxFailurePercent 0: one failure is too many (provider/rollout/gate.ts, judge);
        // C failed after A and B succeeded, so all three were judged when it was seen.
        expect(output).toMatch(new RegExp(`${IMAGE_BROKEN} in ring canary: the rollout was stopped at wave 1 of 1: 1 failed of 3 judged \\([\\d.]+ %, limit 0 %\\); failed: ${C.id}\\.`));
        for (const d of [A, B]) expect(installedOn(d)).toEqual({ file: IMAGE_BROKEN, provides: IMAGE_BROKEN });
        // C's module failed and rolled back: the client keeps what it had, not <name>_INCONSISTENT.
        expect(imageLog(C).slice(-3)).toEqual(['ArtifactInstall failed', 'ArtifactRollback', 'ArtifactFailure']);
        expect(installedOn(C)).toEqual({ file: IMAGE_2, provides: IMAGE_2 });
        expect(daemon(C).showProvides().artifact_name).toMatch(/^configuration-/);
        const [deployment] = (await emu.api<ApiDeployment[]>('GET', `${DEPLOYMENTS}?per_page=100`)).filter((dep) => dep.artifact_name === IMAGE_BROKEN);
        const log = await fetch(`${emu.emulator.url}${DEPLOYMENTS}/${deployment.id}/devices/${C.id}/log`, { headers: { authorization: `Bearer ${TOKEN}` } });
        expect(await log.text()).toContain(`fleet-test-image: this image fails on ${C.mac} on purpose`);
        expect(await running()).toEqual({ [A.id]: IMAGE_BROKEN, [B.id]: IMAGE_BROKEN, [C.id]: IMAGE_2 });
      }),
    );

    await step('an image whose module asks for a reboot converges every daemon through ArtifactReboot', () =>
      withLogs(async () => {
        writeFleet({ image: IMAGE_REBOOT, timezone: 'UTC' });
        await upOk('image with a reboot');
        for (const d of DEVICES) {
          expect(fs.readFileSync(path.join(daemon(d).workDir, 'rebooted'), 'utf8').trim().split('\n')).toHaveLength(1);
          expect(daemon(d).log()).toMatch(/-> reboot \[ArtifactReboot_Enter\]/);
          expect(daemon(d).showProvides().artifact_name).toBe(IMAGE_REBOOT);
        }
        expect(await running()).toEqual(everyDevice(IMAGE_REBOOT));
        expect(await fleetStatus()).toEqual(DEVICES.map((d) => [d.id, IMAGE_REBOOT, 'in sync', true]));
      }),
    );

    await step('a failure aborts the deployment while two daemons are still downloading; they keep their image', () =>
      withLogs(async () => {
        writeFleet({ image: IMAGE_ABORTED, timezone: 'UTC' });
        // C's module holds its failing ArtifactInstall until A and B sit in their Download state.
        const result = await upWhile('image aborted mid-download', async (upEnded) => {
          try {
            await waitDuringUp(`${A.id} and ${B.id} to hold their Download state`, upEnded, () => [A, B].every((d) => imageLog(d).at(-1) === 'Download stalled'));
          } finally {
            daemon(C).openGate(ABORTED_FAIL_GATE);
          }
        });
        expect(result.code).not.toBe(0);
        expect(result.stdout + result.stderr).toMatch(
          new RegExp(`${IMAGE_ABORTED} in ring canary: the rollout was stopped at wave 1 of 1: 1 failed of 1 judged \\(100 %, limit 0 %\\); failed: ${C.id}\\. Its unfinished deployments were aborted`),
        );
        // The up returned after its abort: A and B are still inside their Download state, the
        // payload not yet read (the module holds it until the test opens their gate).
        for (const d of [A, B]) expect(imageLog(d).at(-1)).toBe('Download stalled');
        const [deployment] = (await emu.api<ApiDeployment[]>('GET', `${DEPLOYMENTS}?per_page=100`)).filter((dep) => dep.artifact_name === IMAGE_ABORTED);
        expect(deployment.status).toBe('finished');
        // When the download ends, the client's next status report is refused (409: aborted at
        // the backend) and it installs nothing.
        for (const d of [A, B]) daemon(d).openGate(ABORTED_DOWNLOAD_GATE);
        for (const d of [A, B]) {
          await waitFor(`the daemon of ${d.id} to see the abort`, () => (imageLog(d).at(-1) === 'ArtifactFailure' ? true : undefined));
          expect(imageLog(d).slice(imageLog(d).lastIndexOf('Download stalled'))).toEqual(['Download stalled', 'Download', 'ArtifactFailure']);
          // The client's own account: still in its download state when the server refused it.
          expect(daemon(d).log()).toContain('Status report rejected, deployment aborted at the backend');
          expect(daemon(d).log()).toMatch(/update-store \[Download_Enter\] -> update-error \[ArtifactFailure\]/);
          expect(daemon(d).showProvides().artifact_name).toBe(IMAGE_REBOOT);
        }
        expect(await deviceStatuses(IMAGE_ABORTED)).toEqual({ [A.id]: 'aborted', [B.id]: 'aborted', [C.id]: 'failure' });
        expect(daemon(C).showProvides().artifact_name).toBe(IMAGE_REBOOT);
        expect(await running()).toEqual(everyDevice(IMAGE_REBOOT));
      }),
    );

    await step('the emulator refused the daemons only what mender-server refuses them', async () => {
      await keepDeviceErrors();
      const refused = new Set(deviceErrors.map((r) => `${r.method} ${r.path.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')} ${r.status}`));
      expect([...refused].sort()).toEqual([
        // The 3.4 client tries v2 first; deployments routes devices only under /api/devices/v1/deployments (api/http/routing.go).
        'POST /api/devices/v2/deployments/device/deployments/next 404',
        // A status report for an aborted device deployment: PutDeploymentStatusForDevice (api/http/api_deployments.go) answers ErrDeploymentAborted with 409.
        'PUT /api/devices/v1/deployments/device/deployments/<id>/status 409',
      ]);
    });
  }, 1_200_000);
});
