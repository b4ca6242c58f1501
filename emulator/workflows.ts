// Mender's workflows service, as far as the emulator needs it: deviceconfig's deploy publishes
// the `deploy_device_configuration` workflow and answers at once (deviceconfig app/app.go,
// deployConfiguration); the worker creates the configuration deployment later, through the
// deployments service's internal API (CreateDeviceConfigurationDeployment). Until then the
// deployment id that deploy returned is unknown to the deployments service (404).
import type { Clock } from './clock';
import type { DeploymentsService } from './deployments';
import type { Store } from './store';

export interface DeployConfigurationJob {
  workflow: 'deploy_device_configuration';
  deviceId: string;
  deploymentId: string;
  configuration: Record<string, string>;
  /** Simulated time at which the worker runs it. */
  dueMs: number;
}

export class Workflows {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly deployments: DeploymentsService,
    private readonly delayMs: () => number,
  ) {}

  deployConfiguration(deviceId: string, deploymentId: string, configuration: Record<string, string>): void {
    this.store.workflowJobs.push({
      workflow: 'deploy_device_configuration',
      deviceId,
      deploymentId,
      configuration: { ...configuration },
      dueMs: this.clock.now() + this.delayMs(),
    });
  }

  /** Takes the jobs due at `now` out of the queue, oldest first; the caller runs each at its time. */
  takeDue(now: number): DeployConfigurationJob[] {
    const jobs = this.store.workflowJobs;
    if (!jobs.some((j) => j.dueMs <= now)) return [];
    this.store.workflowJobs = jobs.filter((j) => j.dueMs > now);
    return jobs.filter((j) => j.dueMs <= now).sort((a, b) => a.dueMs - b.dueMs);
  }

  /** The worker runs a job: the configuration deployment is created. */
  run(job: DeployConfigurationJob): void {
    this.deployments.createConfiguration(job.deviceId, job.deploymentId, job.configuration);
  }
}
