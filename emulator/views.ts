// JSON shapes of Mender's responses (DeploymentV1/V2, DeviceWithImage, ArtifactV1/V2, releases,
// DeviceConfiguration), built from the store's records.
import type { DeploymentsService } from './deployments';
import {
  ArtifactRecord,
  DeploymentRecord,
  DeviceConfigRecord,
  DeviceDeploymentRecord,
} from './types';
import type { Store } from './store';

// The artifact's own metadata, which Mender also repeats as `meta_artifact` of a device's image.
function artifactMeta(a: ArtifactRecord): Record<string, unknown> {
  return {
    name: a.name,
    device_types_compatible: a.deviceTypes,
    info: a.info,
    signed: a.signed,
    updates: a.updates.map((u) => ({ ...u, metadata: u.metadata ?? {} })),
    artifact_provides: a.provides,
    artifact_depends: a.depends,
    clears_artifact_provides: a.clearsProvides,
  };
}

export function artifactView(a: ArtifactRecord): Record<string, unknown> {
  return { id: a.id, description: a.description, ...artifactMeta(a), size: a.size, modified: a.modified };
}

export function deploymentView(
  svc: DeploymentsService,
  store: Store,
  d: DeploymentRecord,
  version: 1 | 2,
): Record<string, unknown> {
  let totalSize = 0;
  for (const id of d.artifactIds) totalSize += store.artifacts.get(id)?.size ?? 0;
  const view: Record<string, unknown> = {
    id: d.id,
    name: d.name,
    artifact_name: d.artifactName,
    created: d.created,
    status: svc.status(d),
    // The records made so far (devices that polled), not the devices targeted.
    device_count: d.deviceCount,
    artifacts: d.artifactIds,
    groups: d.groups,
    type: d.type,
    statistics: { status: { ...d.stats }, total_size: totalSize },
  };
  if (d.finished) view.finished = d.finished;
  if (d.configuration !== undefined) view.configuration = d.configuration;
  if (version === 2) {
    view.max_devices = d.maxDevices;
    view.initial_device_count = d.maxDevices;
  }
  if (version === 1 && d.filter) view.filter = { terms: d.filter };
  return view;
}

export function deviceWithImageView(store: Store, dd: DeviceDeploymentRecord): Record<string, unknown> {
  const view: Record<string, unknown> = {
    id: dd.deviceId,
    status: dd.status,
    created: dd.created,
    log: (dd.log?.length ?? 0) > 0,
  };
  if (dd.started) view.started = dd.started;
  if (dd.finished) view.finished = dd.finished;
  if (dd.deviceType) view.device_type = dd.deviceType;
  if (dd.substate) view.substate = dd.substate;
  const a = dd.artifactId ? store.artifacts.get(dd.artifactId) : undefined;
  if (a) {
    view.image = {
      id: a.id,
      meta: { description: a.description },
      meta_artifact: artifactMeta(a),
      size: a.size,
      modified: a.modified,
    };
  }
  return view;
}

export interface Release {
  name: string;
  artifacts: ArtifactRecord[];
  modified: string;
}

export function releases(store: Store): Release[] {
  const byName = new Map<string, Release>();
  for (const a of store.artifacts.values()) {
    const r = byName.get(a.name);
    if (r) {
      r.artifacts.push(a);
      if (a.modified > r.modified) r.modified = a.modified;
    } else {
      byName.set(a.name, { name: a.name, artifacts: [a], modified: a.modified });
    }
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function releaseV1View(r: Release): Record<string, unknown> {
  // Mender's v1 release objects really are capitalised this way.
  return { Name: r.name, modified: r.modified, Artifacts: r.artifacts.map(artifactView), ArtifactsCount: r.artifacts.length, tags: [], notes: '' };
}

export function releaseV2View(r: Release): Record<string, unknown> {
  return { name: r.name, modified: r.modified, artifacts: r.artifacts.map(artifactView), tags: [], notes: '' };
}

export function configView(c: DeviceConfigRecord): Record<string, unknown> {
  const view: Record<string, unknown> = { id: c.id, configured: c.configured, reported: c.reported };
  if (c.deploymentId) view.deployment_id = c.deploymentId;
  // `updated_ts` has no omitempty in deviceconfig's model.Device: null until configured.
  view.updated_ts = c.updatedTs ?? null;
  if (c.reportedTs) view.reported_ts = c.reportedTs;
  return view;
}
