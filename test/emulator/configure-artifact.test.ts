// A configuration deployment serves a real Mender artifact, as deployments' DownloadConfiguration
// serves what GenerateConfigurationImage (app/app.go) writes: read and validated here by Debian's
// mender-artifact 3.9. Before, the emulator served the bare JSON, which the mender client
// refuses ("Image smaller than expected").
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunningEmulator, startEmulator } from '../../emulator';
import { authRequest, deviceKey } from '../helpers/device-auth';
import { MENDER_ARTIFACT } from '../helpers/mender-artifact-tool';
import { client, DEV, testWorld, waitFor } from './support';

const M = '/api/management/v1';
const HOUR = 3600 * 1000;

let emu: RunningEmulator;
let dir: string;

beforeEach(async () => {
  // Simulated devices frozen; the workflow runs at once.
  emu = await startEmulator({ world: testWorld(), timing: { pollIntervalMs: HOUR, stepMs: HOUR, workflowDelayMs: 0 } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'configure-artifact-'));
});
afterEach(async () => {
  await emu.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('serves the configuration as a mender-configure artifact named after the deployment', async () => {
  const api = client(emu.url);
  const configuration = { timezone: 'Europe/Oslo', kiosk_url: 'https://example.org/a?b=c&d', volume: '7' };
  expect((await api.put(`${M}/deviceconfig/configurations/device/${DEV.canary}`, configuration)).status).toBe(204);
  const deployed = await api.post(`${M}/deviceconfig/configurations/device/${DEV.canary}/deploy`, {});
  expect(deployed.status).toBe(200);
  const deploymentId = String(deployed.data.deployment_id);

  const mac = (await api.get(`${M}/inventory/devices/${DEV.canary}`)).data.attributes.find((a: { name: string }) => a.name === 'mac').value as string;
  const token = (await authRequest(emu.url, { mac }, deviceKey())).text;
  const device = client(emu.url, token);
  const next = await waitFor('the configuration deployment', async () => {
    const res = await device.get('/api/devices/v1/deployments/device/deployments/next', { params: { artifact_name: 'pi4-2026.10', device_type: 'pi4-v3-arm64' } });
    return res.status === 200 ? res : undefined;
  });
  expect(next.data).toMatchObject({ id: deploymentId, artifact: { artifact_name: `configuration-${deploymentId}`, device_types_compatible: ['pi4-v3-arm64'] } });

  const download = await fetch(String(next.data.artifact.source.uri));
  expect(download.status).toBe(200);
  expect(download.headers.get('content-type')).toBe('application/vnd.mender-artifact');
  expect(download.headers.get('content-disposition')).toBe('attachment; filename="artifact.mender"');
  const file = path.join(dir, 'artifact.mender');
  fs.writeFileSync(file, Buffer.from(await download.arrayBuffer()));

  execFileSync(MENDER_ARTIFACT, ['validate', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const read = execFileSync(MENDER_ARTIFACT, ['read', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  expect(read).toContain(`Name: configuration-${deploymentId}`);
  expect(read).toContain("Compatible devices: '[pi4-v3-arm64]'");
  expect(read).toMatch(/Type:\s+mender-configure/);
  expect(read).toContain(`data-partition.mender-configure.version: configuration-${deploymentId}`);
  expect(read).toContain('Clears Provides: ["data-partition.mender-configure.*"]');
  expect(read).toContain('Files: None');
  // The meta-data is the configuration, as mender-artifact prints it (indented JSON).
  const metadata = read.slice(read.indexOf('Metadata:') + 'Metadata:'.length, read.indexOf('Files:'));
  expect(JSON.parse(metadata)).toEqual(configuration);
});
