import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { projectRoot as root } from './project-root';

/**
 * The part of each dynamic provider that Pulumi serializes into the state. It holds no client
 * and no schema: every method loads the implementation (provider/implementations.ts) at run
 * time in the provider process, from the project folder found relative to the working
 * directory, so the serialized closure stays a few lines and state is portable across machines.
 */
export type ResourceKind = 'ImageRelease' | 'MenderDeployment' | 'DeviceConfiguration' | 'DeviceConfigurationSet';

// Pulumi serializes a provider object once and caches it by identity; one object per kind keeps
// that to one serialization per kind and run instead of one per resource (minutes at 10,000 devices).
const providers = new Map<ResourceKind, pulumi.dynamic.ResourceProvider>();

export function providerFor(kind: ResourceKind): pulumi.dynamic.ResourceProvider {
  if (!providers.has(kind)) providers.set(kind, makeProvider(kind));
  return providers.get(kind)!;
}

// Both are strings, so they serialize as constants. The project root is kept relative to the
// program folder (the dynamic provider runs there), never as an absolute path.
function makeProvider(kind: ResourceKind): pulumi.dynamic.ResourceProvider {
  const projectRoot = path.relative(process.cwd(), root) || '.';
  const implementation = () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodePath = require('path') as typeof import('path');
    const root = nodePath.resolve(process.cwd(), projectRoot);
    const holder = globalThis as { __menderFleetProviders?: Record<string, unknown> };
    if (!holder.__menderFleetProviders) {
      // The provider process runs plain node: bin/compiled.js loads dist/ when it is current,
      // else the TypeScript sources through ts-node.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const compiled = require(nodePath.join(root, 'bin', 'compiled')) as { load(rel: string): Record<string, unknown> };
      holder.__menderFleetProviders = compiled.load('provider/implementations');
    }
    return holder.__menderFleetProviders as Record<string, unknown> as Record<string, pulumi.dynamic.ResourceProvider> & {
      configure(settings: Record<string, string | undefined>): void;
    };
  };
  return {
    async configure(req) {
      implementation().configure({
        serverUrl: req.config.get('mender:serverUrl'),
        token: req.config.get('mender:token'),
        username: req.config.get('mender:username'),
        password: req.config.get('mender:password'),
        caCert: req.config.get('mender:caCert'),
      });
    },
    check: (olds, news) => implementation()[kind].check!(olds, news),
    diff: (id, olds, news) => implementation()[kind].diff!(id, olds, news),
    create: (inputs) => implementation()[kind].create(inputs),
    read: (id, props) => implementation()[kind].read!(id, props),
    update: (id, olds, news) => implementation()[kind].update!(id, olds, news),
    delete: (id, props) => implementation()[kind].delete!(id, props),
  };
}
