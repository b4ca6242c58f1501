// Simulated devices: each accepted device with work polls `deployments/next`, then downloads,
// installs, reboots and commits, reporting Mender's status sequence, and finally reports its
// new inventory (or rolls back and keeps its old one). Only devices with work are tracked, so an
// idle fleet of 100,000 costs nothing. Every time here is simulated time (Clock.now()), so
// advancing the clock makes due polls and steps run.
import { Clock } from './clock';
import { DeploymentsService } from './deployments';
import type { DeviceconfigService } from './deviceconfig';
import { MenderError } from './errors';
import { sha256Hex } from './ids';
import { Store } from './store';
import { DeviceDeploymentStatus, DeviceRecord, Timing } from './types';
import type { DeployConfigurationJob, Workflows } from './workflows';

/** What a configuration artifact clears (deployments app/app.go: ArtifactConfigureProvidesCleared). */
const CONFIGURE_PROVIDES_PREFIX = 'data-partition.mender-configure.';

/**
 * `rollingBack`: the device rebooted into an image that did not boot and is on its way back to
 * the old one (ArtifactRollback, ArtifactRollbackReboot); it reports nothing in that phase.
 */
type Phase = 'poll' | 'downloading' | 'installing' | 'rebooting' | 'rollingBack';

interface Task {
  phase: Phase;
  dueMs: number;
  deploymentId?: string;
}

/** An event of one run(): a device's due step or a workflow job, with its due time. */
interface DueEvent {
  dueMs: number;
  seq: number;
  deviceId?: string;
  job?: DeployConfigurationJob;
}

/** A binary min-heap of events by due time, then by the order they were queued. */
class EventQueue {
  private readonly heap: DueEvent[] = [];
  private seq = 0;

  private less(a: DueEvent, b: DueEvent): boolean {
    return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.seq < b.seq);
  }

  push(event: Omit<DueEvent, 'seq'>): void {
    const h = this.heap;
    h.push({ ...event, seq: this.seq++ });
    for (let i = h.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i], h[parent])) break;
      [h[i], h[parent]] = [h[parent], h[i]];
      i = parent;
    }
  }

  pop(): DueEvent | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let min = i;
        if (l < h.length && this.less(h[l], h[min])) min = l;
        if (r < h.length && this.less(h[r], h[min])) min = r;
        if (min === i) break;
        [h[i], h[min]] = [h[min], h[i]];
        i = min;
      }
    }
    return top;
  }
}

export class Simulation {
  private readonly tasks = new Map<string, Task>();
  /** While run() runs: its queue and the simulated time it runs up to. */
  private running?: { queue: EventQueue; untilMs: number };
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
      const interval = this.pollInterval(d);
      // A fixed per-device offset within one poll interval (48 bits of the id's hash, so that a
      // device polling daily may first poll at any time of the day).
      const jitter = parseInt(sha256Hex(id).slice(0, 12), 16) % Math.max(1, interval);
      const firstPoll = this.startedMs + (d.behavior.first_poll_after_ms ?? 0);
      const task: Task = { phase: 'poll', dueMs: Math.max(now + jitter, firstPoll) };
      this.tasks.set(id, task);
      // Woken by an event of a run (a workflow's deployment): its poll may be due in this run.
      if (this.running && task.dueMs <= this.running.untilMs) this.running.queue.push({ dueMs: task.dueMs, deviceId: id });
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

  /**
   * Runs every poll, step and workflow job that is due at the current simulated time, in the
   * order they fell due, each with the clock reading its due time (Clock.at): after an advance
   * of hours, a device that finished 5 minutes into them has `finished` 5 minutes in, and the
   * next device's poll sees that. A real-time tick runs late by at most one tickMs.
   */
  run(): void {
    if (this.running) return;
    const untilMs = this.clock.peek();
    const queue = new EventQueue();
    for (const job of this.workflows.takeDue(untilMs)) queue.push({ dueMs: job.dueMs, job });
    for (const [id, task] of this.tasks) if (task.dueMs <= untilMs) queue.push({ dueMs: task.dueMs, deviceId: id });
    this.running = { queue, untilMs };
    let changed = false;
    // A bound against a zero poll interval spinning for ever (as the former 100,000 rounds were).
    const limit = 1_000_000 + 20 * this.tasks.size;
    try {
      for (let event = queue.pop(), n = 0; event && n < limit; event = queue.pop(), n++) {
        const { job, deviceId } = event;
        if (job) {
          this.clock.at(event.dueMs, () => this.workflows.run(job));
          changed = true;
          continue;
        }
        const task = this.tasks.get(deviceId!);
        // A task that moved on since it was queued was queued again at its new time.
        if (!task || task.dueMs !== event.dueMs) continue;
        this.clock.at(task.dueMs, () => this.step(deviceId!, task));
        changed = true;
        const next = this.tasks.get(deviceId!);
        if (next && next.dueMs <= untilMs) queue.push({ dueMs: next.dueMs, deviceId: deviceId! });
      }
    } finally {
      this.running = undefined;
    }
    if (changed) this.onChange();
  }

  private scaled(d: DeviceRecord, ms: number): number {
    return d.behavior.slow ? ms * this.timing.slowFactor : ms;
  }

  /** The device's own poll interval (`poll_interval_ms`), else the timing's (scaled for `slow`). */
  private pollInterval(d: DeviceRecord): number {
    return d.behavior.poll_interval_ms ?? this.scaled(d, this.timing.pollIntervalMs);
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
      this.tasks.set(id, { phase: 'poll', dueMs: task.dueMs + this.pollInterval(d) });
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
        if (artifact && d.behavior.rollback_after_reboot?.includes(artifact.name)) {
          task.phase = 'rollingBack';
          task.dueMs += step;
          return;
        }
        if (artifact && this.report(id, task, 'success')) {
          // The device's inventory update after the commit: what the artifact provides.
          d.inventory.artifact_name = artifact.name;
          d.inventory['rootfs-image.version'] = artifact.provides['rootfs-image.version'] ?? artifact.name;
          d.updatedTs = this.clock.iso();
        }
        return this.pollAgain(id, d, task);
      }
      case 'rollingBack': {
        this.rolledBack(id, d, task);
        return this.pollAgain(id, d, task);
      }
    }
  }

  /**
   * The end of an update whose image did not boot, as mender client 3.4 plays it
   * (mendersoftware/mender, app/state.go at tag 3.4.0): updateRebootState.Handle reported
   * `rebooting` and rebooted; the bootloader fell back to the old partition (clearing
   * upgrade_available), so on start initState.getNextState resumes in updateVerifyRebootState,
   * whose VerifyReboot fails (installer/dual_rootfs_device.go: HasUpdate is false).
   * updateState.HandleError then goes to updateRollbackState (ArtifactRollback),
   * updateRollbackRebootState (ArtifactRollbackReboot: a second reboot),
   * updateVerifyRollbackRebootState, updateAfterRollbackRebootState, updateErrorState
   * (ArtifactFailure) and updateCleanupState, none of which sends a status; last,
   * updateStatusReportState sends `failure` and, for a failure, the deployment log. The commit
   * (CommitArtifactData) never ran, so the inventory the client sends after the cleanup
   * carries the old artifact_name and provides. (An image that boots but fails its commit
   * would report `installing` again first, updateCommitState's pre-commit report; that path
   * is not simulated.)
   */
  private rolledBack(id: string, d: DeviceRecord, task: Task): void {
    if (!this.report(id, task, 'failure')) return;
    const dep = this.store.deployments.get(task.deploymentId!);
    const at = this.clock.iso();
    const running = String(d.inventory.artifact_name ?? '');
    this.deployments.putLog(id, task.deploymentId!, [
      { timestamp: at, level: 'error', message: `the device did not boot into ${dep?.artifactName ?? 'the new artifact'}` },
      { timestamp: at, level: 'info', message: `rolled back to ${running} and rebooted` },
    ]);
    d.updatedTs = at;
  }
}
