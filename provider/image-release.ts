import * as fs from 'node:fs';
import type * as pulumi from '@pulumi/pulumi';
import { gone, isNotFound } from './protocol';
import type { Artifact } from './mender';
import { menderClient, serverUrl } from './settings';
import { ImageReleaseInputs, ImageReleaseOutputs } from './types';

const sorted = (values: string[]) => [...new Set(values)].sort();

function describe(artifacts: Artifact[], inputs: ImageReleaseInputs, uploaded: boolean): ImageReleaseOutputs {
  const file = artifacts.flatMap((a) => a.updates ?? []).flatMap((u) => u.files ?? [])[0];
  return {
    ...inputs,
    artifactIds: artifacts.map((a) => a.id).sort(),
    size: artifacts.reduce((sum, a) => sum + (a.size ?? 0), 0),
    checksum: file?.checksum ?? '',
    compatibleDeviceTypes: sorted(artifacts.flatMap((a) => a.device_types_compatible)),
    uploaded,
  };
}

function unsupported(artifacts: Artifact[], deviceTypes: string[]): string[] {
  const supported = new Set(artifacts.flatMap((a) => a.device_types_compatible));
  return deviceTypes.filter((t) => !supported.has(t));
}

export const imageRelease: pulumi.dynamic.ResourceProvider<ImageReleaseInputs, ImageReleaseOutputs> = {
  // Runs in preview too: reads only. A missing artifact without a file to upload stops the
  // preview here, before anything is deployed.
  async check(_olds, news) {
    const inputs: ImageReleaseInputs = { ...news, deviceTypes: sorted(news.deviceTypes ?? []) };
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!inputs.artifactName) failures.push({ property: 'artifactName', reason: 'an artifact name is required' });
    if (inputs.file && !fs.existsSync(inputs.file)) {
      failures.push({ property: 'file', reason: `artifact file ${inputs.file} does not exist` });
    }
    if (failures.length === 0) {
      const artifacts = await menderClient().findArtifactsByName(inputs.artifactName);
      if (artifacts.length === 0 && !inputs.file) {
        failures.push({
          property: 'artifactName',
          reason: `artifact ${inputs.artifactName} is not on the Mender server ${serverUrl()} and no file is given to upload; upload it (mender-cli artifacts upload) or set its file`,
        });
      } else if (artifacts.length > 0) {
        const missing = unsupported(artifacts, inputs.deviceTypes);
        if (missing.length > 0) {
          failures.push({
            property: 'deviceTypes',
            reason: `artifact ${inputs.artifactName} on ${serverUrl()} does not support device type ${missing.join(', ')} (it supports ${sorted(artifacts.flatMap((a) => a.device_types_compatible)).join(', ')})`,
          });
        }
      }
    }
    return { inputs, failures };
  },

  async diff(_id, olds, news) {
    const replaces = olds.artifactName !== news.artifactName ? ['artifactName'] : [];
    const changed =
      replaces.length > 0 ||
      JSON.stringify(olds.deviceTypes) !== JSON.stringify(news.deviceTypes) ||
      olds.file !== news.file ||
      Boolean(olds.removeOnDelete) !== Boolean(news.removeOnDelete) ||
      (olds.artifactIds ?? []).length === 0;
    return { changes: changed, replaces, deleteBeforeReplace: false };
  },

  async create(inputs) {
    const client = menderClient();
    let artifacts = await client.findArtifactsByName(inputs.artifactName);
    let uploaded = false;
    if (artifacts.length === 0) {
      if (!inputs.file) throw new Error(`artifact ${inputs.artifactName} is not on ${serverUrl()} and no file is given to upload`);
      await client.uploadArtifact(inputs.file, { context: { artifactName: inputs.artifactName } });
      uploaded = true;
      artifacts = await client.findArtifactsByName(inputs.artifactName);
      if (artifacts.length === 0) throw new Error(`uploaded ${inputs.file}, but the server has no artifact named ${inputs.artifactName}: the file's artifact name differs`);
    }
    const missing = unsupported(artifacts, inputs.deviceTypes);
    if (missing.length > 0) throw new Error(`artifact ${inputs.artifactName} does not support device type ${missing.join(', ')}`);
    return { id: inputs.artifactName, outs: describe(artifacts, inputs, uploaded) };
  },

  async read(id, props) {
    const artifacts = await menderClient().findArtifactsByName(props?.artifactName ?? id);
    // No artifact left on the server: report the resource as gone, so refresh shows it.
    if (artifacts.length === 0) return gone();
    return { id, props: describe(artifacts, props as ImageReleaseInputs, Boolean(props?.uploaded)) };
  },

  async update(_id, olds, news) {
    const artifacts = await menderClient().findArtifactsByName(news.artifactName);
    if (artifacts.length === 0) throw new Error(`artifact ${news.artifactName} is no longer on ${serverUrl()}; run refresh, then up to upload it again`);
    const missing = unsupported(artifacts, news.deviceTypes);
    if (missing.length > 0) throw new Error(`artifact ${news.artifactName} does not support device type ${missing.join(', ')}`);
    return { outs: describe(artifacts, news, olds.uploaded) };
  },

  async delete(_id, props) {
    if (!props.removeOnDelete) return;
    const client = menderClient();
    for (const id of props.artifactIds) {
      try {
        await client.deleteArtifact(id, { artifactName: props.artifactName });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  },
};
