// Simulated devices: each accepted device with work polls `deployments/next`, then downloads,
// installs, reboots and commits, reporting Mender's status sequence, and finally reports its
// new inventory. Only devices with work are tracked, so an idle fleet of 100,000 costs nothing.
import { Clock } from './clock';
import { DeploymentsService } from './deployments';
import type { DeviceconfigService } from './deviceconfig';
import { MenderError } from './errors';
import { sha256Hex } from './ids';
import { Store } from './store';
import { DeviceDeploymentStatus, DeviceRecord, Timing } from './types';
import type { Workflows } from './workflows';

/** What a configuration artifact clears (deployments app/app.go: ArtifactConfigureProvidesCleared). */
const CONFIGURE_PROVIDES_PREFIX = 'data-partition.mender-configure.';

type Phase = 'poll' | 'downloading' | 'installing' | 'rebooting';

interface Task {
  phase: Phase;
  dueMs: number;
  deploymentId?: string;
}

export class Simulation {
  private readonly tasks = new Map<string, Task>();
  private timer?: NodeJS.Timeout;
  private readonly startedMs: number;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly deployments: DeploymentsService,
    private readonly deviceconfig: DeviceconfigService,
    private readonly workflows: Workflows,
    private readonly timing: Timing,
    private readonly onChange: () => void = () => undefined,
  ) {
    this.startedMs = clock.now();
  }

  start(): void {
    this.timer = setInterval(() => this.run(), this.timing.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Devices that may have new work start polling (after a jitter of up to one poll interval). */
  wake(deviceIds: readonly string[]): void {
    const now = this.clock.now();
    for (const id of deviceIds) {
      if (this.tasks.has(id)) continue;
      const d = this.store.devices.get(id);
      if (!d || d.behavior.offline || d.external) continue;
      const interval = this.scaled(d, this.timing.pollIntervalMs);
      const jitter = parseInt(sha256Hex(id).slice(0, 6), 16) % Math.max(1, interval);
      const firstPoll = this.startedMs + (d.behavior.first_poll_after_ms ?? 0);
      this.tasks.set(id, { phase: 'poll', dueMs: Math.max(now + jitter, firstPoll) });
    }
  }

  /** Wakes every device that has work waiting (after a restart from a state file). */
  wakeAllWithWork(): void {
    const ids: string[] = [];
    for (const id of this.store.devices.keys()) if (this.deployments.hasWork(id)) ids.push(id);
    this.wake(ids);
  }

  activeCount(): number {
    return this.tasks.size;
  }

  /** Runs every step that is due at the current simulated time. */
  run(): void {
    const now = this.clock.now();
    let changed = this.workflows.runDue();
    for (let progress = true, rounds = 0; progress && rounds < 100000; rounds++) {
      progress = false;
      for (const [id, task] of this.tasks) {
        if (task.dueMs > now) continue;
        this.step(id, task);
        progress = true;
        changed = true;
      }
    }
    if (changed) this.onChange();
  }

  private scaled(d: DeviceRecord, ms: number): number {
    return d.behavior.slow ? ms * this.timing.slowFactor : ms;
  }

  private report(id: string, task: Task, status: DeviceDeploymentStatus): boolean {
    try {
      this.deployments.report(id, task.deploymentId!, status);
      return true;
    } catch (err) {
      // Aborted under the device's feet: it rolls back and keeps its artifact, as a real
      // Mender client does when the server refuses its status update.
      if (err instanceof MenderError) return false;
      throw err;
    }
  }

  private pollAgain(id: string, d: DeviceRecord, task: Task): void {
    if (this.deployments.hasWork(id)) {
      this.tasks.set(id, { phase: 'poll', dueMs: task.dueMs + this.scaled(d, this.timing.pollIntervalMs) });
    } else {
      this.tasks.delete(id);
    }
  }

  /**
   * The inventory after a configuration deployment, as the mender client commits it: the
   * configuration artifact's name becomes the device's artifact_name, and its provides replace
   * only what it clears. The artifact is the one deployments generates (app/app.go,
   * GenerateConfigurationImage): named after the deployment (`configuration-<id>`), providing
   * `data-partition.mender-configure.version` and clearing `data-partition.mender-configure.*`,
   * so rootfs-image.version stays what the last OS update provided.
   */
  private commitConfigurationArtifact(d: DeviceRecord, artifactName: string): void {
    for (const key of Object.keys(d.inventory)) if (key.startsWith(CONFIGURE_PROVIDES_PREFIX)) delete d.inventory[key];
    d.inventory.artifact_name = artifactName;
    d.inventory[`${CONFIGURE_PROVIDES_PREFIX}version`] = artifactName;
    d.updatedTs = this.clock.iso();
  }

  private step(id: string, task: Task): void {
    const d = this.store.devices.get(id);
    if (!d || d.behavior.offline || d.external) {
      this.tasks.delete(id);
      return;
    }
    const step = this.scaled(d, this.timing.stepMs);
    const artifactName = String(d.inventory.artifact_name ?? '');
    const deviceType = String(d.inventory.device_type ?? '');
    switch (task.phase) {
      case 'poll': {
        const instructions = this.deployments.next(id, artifactName, deviceType);
        if (!instructions) {
          this.pollAgain(id, d, task);
          return;
        }
        task.deploymentId = instructions.id;
        if (!this.report(id, task, 'downloading')) return this.pollAgain(id, d, task);
        task.phase = 'downloading';
        task.dueMs += step;
        return;
      }
      case 'downloading': {
        if (!this.report(id, task, 'installing')) return this.pollAgain(id, d, task);
        task.phase = 'installing';
        task.dueMs += step;
        return;
      }
      case 'installing': {
        const dep = this.store.deployments.get(task.deploymentId!);
        if (!dep) return this.pollAgain(id, d, task);
        if (dep.type === 'configuration') {
          if (d.behavior.reject_config) {
            this.report(id, task, 'failure');
          } else if (this.report(id, task, 'success')) {
            // mender-configure applies it, then the device reports what it now has.
            this.deviceconfig.report(id, JSON.parse(dep.configuration ?? '{}') as Record<string, string>);
            this.commitConfigurationArtifact(d, dep.artifactName);
          }
          return this.pollAgain(id, d, task);
        }
        if (d.behavior.fail_install?.includes(dep.artifactName)) {
          this.report(id, task, 'failure');
          return this.pollAgain(id, d, task);
        }
        if (!this.report(id, task, 'rebooting')) return this.pollAgain(id, d, task);
        task.phase = 'rebooting';
        task.dueMs += step;
        return;
      }
      case 'rebooting': {
        const dd = this.store.deploymentDevices.get(task.deploymentId!)?.get(id);
        const artifact = this.store.artifacts.get(dd?.artifactId ?? '');
        if (artifact && this.report(id, task, 'success')) {
          // The device's inventory update after the commit: what the artifact provides.
          d.inventory.artifact_name = artifact.name;
          d.inventory['rootfs-image.version'] = artifact.provides['rootfs-image.version'] ?? artifact.name;
          d.updatedTs = this.clock.iso();
        }
        return this.pollAgain(id, d, task);
      }
    }
  }
}
