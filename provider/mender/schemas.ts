// zod schemas of the Mender payloads the client reads, taken from the OpenAPI spec
// (spec/mender-openapi.yaml, components/schemas; spec/SOURCE.md names its source). They are built lazily, on first
// use, and cached: requiring this module builds nothing (Pulumi serializes provider closures; a
// module that builds objects at load time drags them along).
//
// Objects strip unknown keys (z.object), so newer server fields do not break the client; required
// fields and types follow the spec.
import { z } from 'zod';

function build() {
  const Scope = z.enum(['system', 'identity', 'inventory', 'monitor', 'tags']);

  const Error = z.object({
    error: z.string(),
    request_id: z.string().optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  });

  const UpdateFile = z.object({
    name: z.string().optional(),
    checksum: z.string().optional(),
    size: z.number().optional(),
    date: z.string().optional(),
  });

  const Update = z.object({
    type_info: z.object({ type: z.string().nullable().optional() }).optional(),
    files: z.array(UpdateFile).nullable().optional(),
    metadata: z.unknown().optional(),
    meta_data: z.unknown().optional(),
  });

  const Artifact = z.object({
    id: z.string(),
    name: z.string(),
    description: z.string().optional(),
    device_types_compatible: z.array(z.string()),
    info: z.object({ format: z.string().optional(), version: z.number().int().optional() }).optional(),
    signed: z.boolean().optional(),
    updates: z.array(Update).optional(),
    artifact_provides: z.record(z.string(), z.string()).optional(),
    artifact_depends: z.record(z.string(), z.array(z.string())).optional(),
    clears_artifact_provides: z.array(z.string()).optional(),
    size: z.number().int().optional(),
    modified: z.string(),
  });

  const Statistics = z.object({
    success: z.number().int(),
    pending: z.number().int(),
    downloading: z.number().int(),
    rebooting: z.number().int(),
    installing: z.number().int(),
    failure: z.number().int(),
    noartifact: z.number().int(),
    'already-installed': z.number().int(),
    aborted: z.number().int(),
    pause_before_installing: z.number().int(),
    pause_before_rebooting: z.number().int(),
    pause_before_committing: z.number().int(),
  });

  const DeploymentStatus = z.enum(['scheduled', 'pending', 'inprogress', 'finished']);

  const Deployment = z.object({
    id: z.string(),
    name: z.string(),
    artifact_name: z.string(),
    created: z.string(),
    finished: z.string().optional(),
    status: DeploymentStatus,
    device_count: z.number().int(),
    artifacts: z.array(z.string()).optional(),
    groups: z.array(z.string()).optional(),
    type: z.enum(['configuration', 'software']).optional(),
    retries: z.number().int().optional(),
    max_devices: z.number().int().optional(),
    initial_device_count: z.number().int().optional(),
    dynamic: z.boolean().optional(),
    statistics: z
      .object({
        status: Statistics.optional(),
        total_size: z.number().int().optional(),
      })
      .optional(),
  });

  const DeviceDeploymentStatus = z.enum([
    'failure',
    'aborted',
    'pause_before_installing',
    'pause_before_committing',
    'pause_before_rebooting',
    'downloading',
    'installing',
    'rebooting',
    'pending',
    'success',
    'noartifact',
    'already-installed',
    'decommissioned',
  ]);

  const DeviceWithImage = z.object({
    id: z.string(),
    status: DeviceDeploymentStatus,
    created: z.string().optional(),
    started: z.string().optional(),
    finished: z.string().optional(),
    deleted: z.string().optional(),
    device_type: z.string().optional(),
    log: z.boolean(),
    state: z.string().optional(),
    substate: z.string().optional(),
    image: z
      .object({
        id: z.string().optional(),
        meta: z.object({ description: z.string().optional() }).optional(),
        meta_artifact: z
          .object({
            name: z.string().optional(),
            device_types_compatible: z.array(z.string()).optional(),
          })
          .optional(),
        size: z.number().int().optional(),
        modified: z.string().optional(),
      })
      .optional(),
  });

  const DeviceDeployment = z.object({
    id: z.string().optional(),
    deployment: Deployment,
    device: DeviceWithImage,
  });

  const AttributeValue = z.union([z.boolean(), z.string(), z.number(), z.array(z.string()), z.array(z.number())]);

  const Attribute = z.object({
    name: z.string(),
    description: z.string().optional(),
    value: AttributeValue,
    scope: Scope,
    timestamp: z.string().optional(),
  });

  const DeviceInventory = z.object({
    id: z.string(),
    updated_ts: z.string().optional(),
    attributes: z.array(Attribute).optional(),
    identities: z.array(z.string()).optional(),
  });

  const StringMap = z.record(z.string(), z.string());

  const DeviceConfiguration = z.object({
    id: z.string().optional(),
    configured: StringMap.optional(),
    reported: StringMap.optional(),
    deployment_id: z.string().optional(),
    reported_ts: z.string().optional(),
    // deviceconfig's model.Device has no omitempty on updated_ts: null for a record that only
    // the device's own report created.
    updated_ts: z.string().nullish(),
  });

  const NewConfigurationDeploymentResponse = z.object({
    deployment_id: z.string(),
  });

  /** A JWT as returned by the login endpoint (three base64url parts). */
  const Jwt = z.string().regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/, 'expected a JWT (header.payload.signature)');

  return {
    Error,
    Artifact,
    ArtifactList: z.array(Artifact),
    Statistics,
    Deployment,
    DeploymentList: z.array(Deployment),
    DeviceWithImage,
    DeviceWithImageList: z.array(DeviceWithImage),
    DeviceDeployment,
    DeviceDeploymentList: z.array(DeviceDeployment),
    Attribute,
    DeviceInventory,
    DeviceInventoryList: z.array(DeviceInventory),
    DeviceConfiguration,
    NewConfigurationDeploymentResponse,
    DeviceIdList: z.array(z.string()),
    Jwt,
  };
}

export type MenderSchemas = ReturnType<typeof build>;

let cached: MenderSchemas | undefined;

/** The schemas, built on first call. */
export function schemas(): MenderSchemas {
  if (!cached) cached = build();
  return cached;
}

export type Artifact = z.infer<MenderSchemas['Artifact']>;
export type DeploymentStatistics = z.infer<MenderSchemas['Statistics']>;
export type Deployment = z.infer<MenderSchemas['Deployment']>;
export type DeviceDeploymentStatus = z.infer<MenderSchemas['DeviceWithImage']>['status'];
export type DeploymentDevice = z.infer<MenderSchemas['DeviceWithImage']>;
export type DeviceDeployment = z.infer<MenderSchemas['DeviceDeployment']>;
export type InventoryAttribute = z.infer<MenderSchemas['Attribute']>;
export type AttributeScope = InventoryAttribute['scope'];
export type AttributeValue = InventoryAttribute['value'];
export type DeviceInventory = z.infer<MenderSchemas['DeviceInventory']>;
export type DeviceConfiguration = z.infer<MenderSchemas['DeviceConfiguration']>;

/** Formats zod issues as "path: message" lines (at most `max`). */
export function describeIssues(error: z.ZodError, max = 8): string[] {
  const lines = error.issues.slice(0, max).map((i) => {
    const path = i.path.length ? i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : '(body)';
    return `${path}: ${i.message}`;
  });
  if (error.issues.length > max) lines.push(`... and ${error.issues.length - max} more`);
  return lines;
}
