// The provider object Pulumi's dynamic provider host calls for each kind, in the provider's
// process: the stored `__provider` text (serialized-provider.ts) loads this module and nothing
// else, so what a method does is decided here, at run time, never frozen into the state.
import type * as pulumi from '@pulumi/pulumi';
import * as implementations from './implementations';
import type { ResourceKind } from './serialized-provider';

const providers = new Map<ResourceKind, pulumi.dynamic.ResourceProvider>();

export function dynamicProvider(kind: ResourceKind): pulumi.dynamic.ResourceProvider {
  let provider = providers.get(kind);
  if (!provider) {
    const implementation = implementations[kind] as pulumi.dynamic.ResourceProvider;
    provider = {
      async configure(req) {
        implementations.configure({
          serverUrl: req.config.get('mender:serverUrl'),
          token: req.config.get('mender:token'),
          username: req.config.get('mender:username'),
          password: req.config.get('mender:password'),
          caCert: req.config.get('mender:caCert'),
        });
      },
      check: (olds, news) => implementation.check!(olds, news),
      diff: (id, olds, news) => implementation.diff!(id, olds, news),
      create: (inputs) => implementation.create(inputs),
      read: (id, props) => implementation.read!(id, props),
      update: (id, olds, news) => implementation.update!(id, olds, news),
      delete: (id, props) => implementation.delete!(id, props),
    };
    providers.set(kind, provider);
  }
  return provider;
}
