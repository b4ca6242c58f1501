// The Pulumi program: the language host requires the project folder, whose package.json `main`
// is this file. It runs index.ts, compiled when dist/ is current (bin/compiled.js); its
// exports are the stack's outputs.
'use strict';
const { invoke } = require('@pulumi/pulumi/runtime/invoke');
const { awaitStackRegistrations } = require('@pulumi/pulumi/runtime/settings');

// First, has the engine start the dynamic provider. The engine starts a provider when something
// first needs it, and ours is a second Node.js process that spends about a second loading
// Pulumi's runtime before it answers; asked now for a function, it loads while this process
// loads the program and reads the fleet and Mender, instead of after (docs/performance.md). The
// dynamic provider has no functions, so the answer is an error, which means nothing here.
invoke('pulumi-nodejs:dynamic:start', {}).catch(() => undefined);

module.exports = (async () => {
  // Loading the program blocks this process for a few hundred milliseconds: let the request
  // leave first (it waits for the stack's registration, then goes out within one turn).
  await awaitStackRegistrations();
  await new Promise((resolve) => setImmediate(resolve));
  return require('./compiled').load('index');
})();
