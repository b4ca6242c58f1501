// The name of a Mender deployment this project makes: `<ring>:<artifact>:<device count>:<digest>`.
// The provider writes it (mender-deployment.ts) and reads it back to adopt its own unfinished
// deployments; the promotion gate reads it to find the earlier ring's deployments of an image.
// Writer and reader live here together so the format has one definition.
import { createHash } from 'node:crypto';

/** Mender refuses longer deployment names (pkg/rules/sizes.go, deploymentNameSize). */
export const MAX_DEPLOYMENT_NAME_LENGTH = 256;

const sortedUnique = (values: string[]) => [...new Set(values)].sort();

/**
 * The Mender deployment name for a set of devices: the same artifact and devices always give
 * the same name, so a create retried after a crash finds the deployment it already made.
 */
export function deploymentName(ring: string, artifactName: string, devices: string[]): string {
  const digest = createHash('sha256').update(sortedUnique(devices).join('\n')).digest('hex').slice(0, 12);
  return `${ring}:${artifactName}:${devices.length}:${digest}`;
}

/** What every name of the ring's deployments of the artifact starts with. */
export function deploymentNamePrefix(ring: string, artifactName: string): string {
  return `${ring}:${artifactName}:`;
}

/** Whether a Mender deployment is one of the ring's deployments of the artifact, by its name and artifact. */
export function isRingDeploymentOf(deployment: { name: string; artifact_name: string }, ring: string, artifactName: string): boolean {
  return deployment.name.startsWith(deploymentNamePrefix(ring, artifactName)) && deployment.artifact_name === artifactName;
}

/** Whether a Mender deployment is one of the ring's (of any artifact), by its name. */
export function isRingDeployment(deployment: { name: string }, ring: string): boolean {
  return deployment.name.startsWith(`${ring}:`);
}

/** The longest name a ring's deployments of the artifact can have (the count and digest at their widest). */
export function longestDeploymentName(ring: string, artifactName: string, maxDevices: number): number {
  return deploymentName(ring, artifactName, []).length - 1 + String(maxDevices).length;
}

/**
 * The name of a rollback: `rollback@<ring>:<artifact it goes back to>:<device count>:<digest>`.
 * Unlike a ring's deployment of that artifact, it is no MenderDeployment's own (none adopts or
 * aborts it as one of its parts) and it is no promotion evidence; the same devices always give
 * the same name, so a rollback retried after a crash finds the one it made.
 */
export function rollbackDeploymentName(ring: string, artifactName: string, devices: string[]): string {
  return `rollback@${deploymentName(ring, artifactName, devices)}`;
}
