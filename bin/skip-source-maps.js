// Pulumi's program runner and dynamic provider host without source-map-support, when the project
// runs compiled (bin/compiled.js).
//
// Both hosts install source-map-support first thing, so that a TypeScript program's stack traces
// name its .ts lines. Pulumi captures a stack trace for each resource it registers and for many of
// its promises, and source-map-support maps every frame of each, reading and parsing the source
// maps of Pulumi's own files on the way: about 0.1 s of a no-op preview of the demo's canary ring,
// most of it before the program's first line (docs/performance.md). The compiled program's frames
// are dist/ files, which need no mapping to be found; through ts-node (an edited, unbuilt tree)
// the mapping stays, since there it names the lines being edited.
//
// Used as `node --require bin/skip-source-maps.js` by the program (Pulumi.yaml's nodeargs) and
// required by bin/dynamic-provider.js.
'use strict';
const Module = require('node:module');
const path = require('node:path');

/** The Pulumi entry points whose `require("source-map-support/register")` is skipped. */
const HOSTS = [path.join('cmd', 'run', 'index.js'), path.join('cmd', 'dynamic-provider', 'index.js')].map((entry) =>
  path.join('node_modules', '@pulumi', 'pulumi', entry));

if (!Module._load.skipSourceMaps) {
  const load = Module._load;
  const skipping = function (request, parent) {
    if (request === 'source-map-support/register' && parent && typeof parent.filename === 'string' &&
        HOSTS.some((host) => parent.filename.endsWith(host)) && require('./compiled').loadMode() === 'compiled') {
      return {};
    }
    return load.apply(this, arguments);
  };
  skipping.skipSourceMaps = true;
  Module._load = skipping;
}
