import Table from 'cli-table3';
import type { MenderClient } from '../provider/mender';
import { runningImages } from '../provider/mender-deployment';

/** The per-device summary the fleet program exports as `devices`. */
export interface ExportedDevice {
  group: string;
  ring: string;
  deviceType: string;
  desiredImage: string;
  configurationHash: string | null;
}

export interface DeviceStatus {
  id: string;
  deviceType: string;
  ring: string;
  desiredImage: string;
  runningImage: string;
  configuration: 'in sync' | 'pending' | 'none';
  converged: boolean;
}

/** Desired (from the stack's outputs) against actual (from Mender) for each device. */
export async function fleetStatus(client: MenderClient, devices: Record<string, ExportedDevice>): Promise<DeviceStatus[]> {
  const ids = Object.keys(devices).sort();
  const running = await runningImages(client, ids);
  return client.mapLimited(ids, async (id) => {
    const desired = devices[id];
    let configuration: DeviceStatus['configuration'] = 'none';
    if (desired.configurationHash) {
      const state = await client.getDeviceConfiguration(id);
      const keys = new Set([...Object.keys(state.configured), ...Object.keys(state.reported)]);
      configuration = [...keys].every((k) => state.configured[k] === state.reported[k]) && keys.size > 0 ? 'in sync' : 'pending';
    }
    const runningImage = running.get(id) ?? '(unknown to Mender)';
    return {
      id,
      deviceType: desired.deviceType,
      ring: desired.ring,
      desiredImage: desired.desiredImage,
      runningImage,
      configuration,
      converged: runningImage === desired.desiredImage && configuration !== 'pending',
    };
  });
}

export function statusTable(rows: DeviceStatus[]): string {
  const table = new Table({ head: ['device', 'type', 'ring', 'desired image', 'running image', 'configuration', ''], style: { head: [], border: [] } });
  for (const row of rows) {
    table.push([row.id, row.deviceType, row.ring, row.desiredImage, row.runningImage, row.configuration, row.converged ? 'ok' : 'NOT CONVERGED']);
  }
  return table.toString();
}
