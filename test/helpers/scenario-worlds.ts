// The emulator worlds of the scenarios that run twice: through the engine (test/engine/) and,
// for the steps that need only the provider protocol, through Pulumi's dynamic provider host
// (test/protocol/). One world each, so both halves of a scenario play on the same fleet.
import type { World } from '../../emulator';

/** The three resources: two pi4 devices and a pi3 on last month's images. */
export const RESOURCES = { PI4_A: '3fb4632b-96b9-475d-ac89-02255bd15b6f', PI4_B: 'b8b311de-000e-4914-9a13-1d7e2e23bc5d', PI3: '50a28c2e-3ee8-4559-a5b9-3ce47c881c5d' } as const;

export function resourcesWorld(token: string, extraDevices: World['devices'] = []): World {
  const { PI4_A, PI4_B, PI3 } = RESOURCES;
  return {
    artifacts: [
      { name: 'pi4-2026.10', device_types: ['pi4-v3-arm64'] },
      { name: 'pi4-2026.11', device_types: ['pi4-v3-arm64'] },
      { name: 'pi3-2026.11', device_types: ['pi3-arm64'] },
    ],
    devices: [
      { id: PI4_A, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10' },
      { id: PI4_B, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10' },
      { id: PI3, device_type: 'pi3-arm64', artifact_name: 'pi3-2026.10' },
      ...extraDevices,
    ],
    tokens: [token],
    users: [],
  };
}

/** A configured kiosk (A) and a device without configuration (B), both on pi4-2026.10. */
export const CONFIGURED = { A: 'a7a7a7a7-0000-4000-8000-0000000000a7', B: 'b8b8b8b8-0000-4000-8000-0000000000b8', PI4: 'pi4-v3-arm64' } as const;

export function configuredWorld(token: string): World {
  const { A, B, PI4 } = CONFIGURED;
  return {
    artifacts: [
      { name: 'pi4-2026.10', device_types: [PI4] },
      { name: 'pi4-2026.11', device_types: [PI4] },
    ],
    devices: [A, B].map((id) => ({ id, device_type: PI4, artifact_name: 'pi4-2026.10' })),
    tokens: [token],
    users: [],
  };
}

/** Four kiosks of one group and template, already on their image. */
export const KIOSKS = ['c0000001-0000-4000-8000-000000000001', 'c0000002-0000-4000-8000-000000000002', 'c0000003-0000-4000-8000-000000000003', 'c0000004-0000-4000-8000-000000000004'];

export function kiosksWorld(token: string): World {
  return {
    artifacts: [{ name: 'pi4-2026.11', device_types: ['pi4-v3-arm64'] }],
    devices: KIOSKS.map((id) => ({ id, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.11' })),
    tokens: [token],
    users: [],
  };
}
