'use strict';
// jest's module registry does not run require hooks, so bin/defer-closures.js has no effect in a
// test file: jest.config.js maps runtime/index.js's require of ./closure/serializeClosure here instead, to
// the same effect. The real module is required at the first call.
const path = require('node:path');
const real = () => require(path.join(path.dirname(require.resolve('@pulumi/pulumi/package.json')), 'runtime', 'closure', 'serializeClosure.js'));
exports.serializeFunctionAsync = (...args) => real().serializeFunctionAsync(...args);
exports.serializeFunction = (...args) => real().serializeFunction(...args);
