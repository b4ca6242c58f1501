// The health vocabulary (shared/health.ts) on Git's side as the program knows it after an up:
// the stack records each device's configuration as a hash (pipeline/plan.ts), not its values,
// so `fleet status` tells Git's configuration by that hash.
import { configurationHealth, GitsConfiguration, Health, ObservedConfiguration } from '../shared/health';
import { configurationHash } from './pipeline/plan';

/** Git's configuration of a device as the stack records it: the hash (pipeline/plan.ts) and, since it is recorded, which keys are secret. */
export interface DesiredConfiguration {
  hash: string;
  /** Undefined for a stack applied before the keys were recorded; then Git's values cannot be compared. */
  secretKeys?: readonly string[];
}

/**
 * Whether Mender holds Git's configuration, by the stack's hash. Secret values are not in the
 * hash, so a secret changed in Mender alone is not seen here (the provider's read compares the
 * values themselves). A stack that recorded no secret keys cannot be compared with Git: any
 * configuration Mender holds counts as Git's, the verdict from before Git was compared.
 */
export function isRecordedConfiguration(desired: DesiredConfiguration): GitsConfiguration {
  const { secretKeys } = desired;
  if (secretKeys === undefined) return (held) => Object.keys(held).length > 0;
  return (held) => configurationHash({ values: { ...held }, secretKeys: [...secretKeys] }) === desired.hash;
}

/** The configuration's health against what the stack recorded (a stale configuration Mender holds and the device reports is drifted). */
export function recordedConfigurationHealth(desired: DesiredConfiguration, observed: ObservedConfiguration | undefined): Health {
  return configurationHealth(observed, isRecordedConfiguration(desired));
}
