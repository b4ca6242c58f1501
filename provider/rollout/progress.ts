// Where a rollout of one image in one ring stands, as the MenderDeployment records it in the
// stack: the waves started so far, their Mender deployments, the image each device ran before,
// and how it ended. Mender holds the rest (each device's status in each deployment), so an `up`
// reads it back and moves the rollout on from here.
import type { GateFigures } from './gate';

/** One Mender deployment of a wave (a wave beyond 20,000 devices has several, as do devices that joined it later). */
export interface WavePart {
  deploymentId: string;
  devices: string[];
  /** When the deployment was made, in Mender's time (ms): a device's timeout counts from here. */
  startedAt: number;
}

export interface WaveRecord {
  parts: WavePart[];
  /** When the wave started (ms, Mender's time); an empty wave passes at once. */
  startedAt: number;
}

export type RolloutOutcome = 'done' | 'stopped' | 'rolled-back';

/** Where a rollout stands at the end of an up. */
export type RolloutPhase = 'waiting' | 'soaking' | 'paused' | RolloutOutcome;

export interface RolloutBreach {
  /** When the gate was breached (ms, Mender's time). */
  at: number;
  figures: GateFigures;
  /** The rollback's deployments, one per image the devices go back to. */
  rollbackDeploymentIds: string[];
  /** Devices the rollback sent back, per image. */
  rolledBack: Record<string, string[]>;
}

export interface RolloutProgress {
  /** The devices that needed the image when the rollout started: it fixes each wave's target. */
  total: number;
  waves: WaveRecord[];
  /** When the last started wave was first seen passed (the soak counts from then). */
  passedAt?: number;
  /** Device → the image it ran when its wave started (what a rollback gives it back). */
  previous: Record<string, string>;
  phase: RolloutPhase;
  /** When the soak after the last passed wave ends (phase soaking). */
  soakUntil?: number;
  breach?: RolloutBreach;
  /** The gate's figures at the end of the last up. */
  figures?: GateFigures;
  /** How many waves the policy has (the last wave takes the rest). */
  of: number;
}

export function emptyProgress(total: number, of: number): RolloutProgress {
  return { total, waves: [], previous: {}, phase: 'waiting', of };
}

/** The rollout stopped for good (until Git names another image): no later up starts it again. */
export function isStopped(progress: RolloutProgress | undefined): boolean {
  return progress?.phase === 'stopped' || progress?.phase === 'rolled-back';
}

/** The rollout has more to do: an up moves it on (waiting for devices, soaking, or paused). */
export function isUnderWay(progress: RolloutProgress | undefined): boolean {
  return progress?.phase === 'waiting' || progress?.phase === 'soaking' || progress?.phase === 'paused';
}

/** The devices each started wave was given. */
export function startedDevices(progress: RolloutProgress): string[][] {
  return progress.waves.map((w) => [...new Set(w.parts.flatMap((p) => p.devices))]);
}
