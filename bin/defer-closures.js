// Pulumi's runtime without its closure serializer until something serializes a closure.
//
// `@pulumi/pulumi/runtime` (which the dynamic provider host and the Automation API require whole)
// loads the closure serializer and the code-path computer up front, and with them the TypeScript
// compiler, npm's arborist and every module of `@pulumi/pulumi`: 1 to 2 CPU-s, most of a dynamic
// provider's start (docs/performance.md). Neither our provider processes nor `fleet` serializes a
// closure (our providers travel as source text, provider/serialized-provider.ts), so this preload
// hands `runtime/index.js` a stand-in for those two modules that requires the real one at its
// first use. Nothing of Pulumi's is changed on disk, and what uses the serializer gets it.
//
// Used as `node --require bin/defer-closures.js` by the dynamic provider (the plugin wrapper of
// scripts/engine) and the program (Pulumi.yaml's nodeargs), and required first by bin/fleet.js.
'use strict';
const Module = require('node:module');
const path = require('node:path');

const RUNTIME_INDEX = path.join('node_modules', '@pulumi', 'pulumi', 'runtime', 'index.js');

/** The modules deferred, and the functions runtime/index.js copies from each when it loads. */
const DEFERRED = new Map([
  ['./closure/serializeClosure', ['serializeFunctionAsync', 'serializeFunction']],
  ['./closure/codePaths', ['computeCodePaths']],
]);

/**
 * A stand-in for a module: the functions named are forwarders that need no module yet; any other
 * use of it (a property not named, its keys) loads the real module and answers from it.
 */
function standIn(load, functions) {
  const forwarders = new Map(functions.map((name) => [name, (...args) => load()[name](...args)]));
  return new Proxy(Object.create(null), {
    get: (_target, key) => (forwarders.has(key) ? forwarders.get(key) : load()[key]),
    has: (_target, key) => key in load(),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_target, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(load(), key);
      return descriptor && { ...descriptor, configurable: true };
    },
  });
}

if (!Module._load.deferClosures) {
  const load = Module._load;
  const deferring = function (request, parent, isMain) {
    const functions = DEFERRED.get(request);
    if (functions && parent && typeof parent.filename === 'string' && parent.filename.endsWith(RUNTIME_INDEX)) {
      let real;
      return standIn(() => (real ??= load.call(Module, request, parent, isMain)), functions);
    }
    return load.apply(this, arguments);
  };
  deferring.deferClosures = true;
  Module._load = deferring;
}

// What is deferred, for the test that holds jest's stand-ins (test/helpers/deferred/) to the same list.
module.exports = { DEFERRED };
