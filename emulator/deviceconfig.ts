// Mender's deviceconfig service (backend/services/deviceconfig): what is configured for a
// device, what the device itself reported, and the deploy that hands the configuration to the
// workflows service.
import type { Clock } from './clock';
import { MenderError, notFound } from './errors';
import { newId } from './ids';
import type { Store } from './store';
import type { DeviceConfigRecord } from './types';
import type { Workflows } from './workflows';

/**
 * Keys a configuration may have: model.Attributes validates with validateAttributesLength, and
 * the store (ReplaceConfiguration, ReplaceReportedConfiguration) runs that validation after the
 * HTTP layer, so more keys answer 500, not 400.
 */
export const MAX_CONFIGURATION_KEYS = 100;

const internalError = (): MenderError => new MenderError(500, 'Internal Server Error');

export class DeviceconfigService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly workflows: Workflows,
  ) {}

  /**
   * The device's record. deviceconfig provisions a record when deviceauth accepts a device
   * (ProvisionDevice sets updated_ts), so every accepted device has one.
   */
  get(id: string): DeviceConfigRecord {
    const c = this.store.configs.get(id);
    if (c) return c;
    const device = this.store.devices.get(id);
    if (!device || device.deviceconfigProvisioned === false) throw notFound('device does not exist');
    return { id, configured: {}, reported: {}, updatedTs: device.createdTs };
  }

  private upsert(id: string): DeviceConfigRecord {
    const existing = this.store.configs.get(id);
    if (existing) return existing;
    // A device unknown to deviceconfig gets a record without updated_ts (an upsert that
    // sets only what it changes), which the API shows as null.
    const provisioned = this.store.devices.get(id)?.deviceconfigProvisioned !== false && this.store.devices.has(id);
    const created: DeviceConfigRecord = provisioned ? this.get(id) : { id, configured: {}, reported: {} };
    this.store.configs.set(id, created);
    return created;
  }

  /** PUT …/configurations/device/{id} (SetConfiguration): replaces the configured map. */
  setConfigured(id: string, configured: Record<string, string>): void {
    if (Object.keys(configured).length > MAX_CONFIGURATION_KEYS) throw internalError();
    const record = this.upsert(id);
    record.configured = { ...configured };
    record.updatedTs = this.clock.iso();
  }

  /** The device's own PUT /api/devices/v1/deviceconfig/configuration (SetReportedConfiguration). */
  report(id: string, reported: Record<string, string>): void {
    if (Object.keys(reported).length > MAX_CONFIGURATION_KEYS) throw internalError();
    const record = this.upsert(id);
    record.reported = { ...reported };
    record.reportedTs = this.clock.iso();
  }

  /**
   * POST …/deploy (DeployConfiguration): records a new deployment id, publishes the workflow
   * and answers before the deployment exists.
   */
  deploy(id: string): string {
    const record = this.get(id);
    const deploymentId = newId();
    this.store.configs.set(id, record);
    record.deploymentId = deploymentId;
    this.workflows.deployConfiguration(id, deploymentId, record.configured);
    return deploymentId;
  }
}
