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

  /** Runs the jobs that are due; true when any ran. */
  runDue(): boolean {
    const now = this.clock.now();
    const due = this.store.workflowJobs.filter((j) => j.dueMs <= now);
    if (due.length === 0) return false;
    this.store.workflowJobs = this.store.workflowJobs.filter((j) => j.dueMs > now);
    for (const job of due) this.deployments.createConfiguration(job.deviceId, job.deploymentId, job.configuration);
    return true;
  }
}
