// The rollout the recovery tests interrupt: one slow device and one that never polls, so an
// `up` is still watching when it is killed.
import type { World } from '../../emulator';

export const ROLLOUT_ARTIFACT = 'pi4-2026.12';

export function interruptedRollout(token: string, ids: { slow: string; offline: string }) {
  const world: World = {
    artifacts: [{ name: ROLLOUT_ARTIFACT, device_types: ['pi4-v3-arm64'] }],
    devices: [
      { id: ids.slow, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', behavior: { slow: true } },
      { id: ids.offline, device_type: 'pi4-v3-arm64', artifact_name: 'pi4-2026.10', behavior: { offline: true } },
    ],
    tokens: [token],
    users: [],
  };
  const desired = {
    images: [{ name: ROLLOUT_ARTIFACT, deviceTypes: ['pi4-v3-arm64'] }],
    deployments: [{ name: ROLLOUT_ARTIFACT, artifactName: ROLLOUT_ARTIFACT, devices: [ids.offline, ids.slow], rollout: { timeoutSeconds: 300, pollSeconds: 0.05 } }],
    configurations: [] as unknown[],
  };
  return { world, desired };
}
