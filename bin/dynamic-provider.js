// What the engine's dynamic provider plugin runs for this project (the plugin wrapper of
// scripts/engine finds it in the program's folder): Pulumi's own dynamic provider host
// (`@pulumi/pulumi/cmd/dynamic-provider`, the engine's address its argument), started so that it
// answers sooner.
'use strict';
// The host requires Pulumi's runtime whole, and with it a closure serializer it never uses.
require('./defer-closures');
// And its stack traces are not mapped to TypeScript when the project runs compiled.
require('./skip-source-maps');
// Our providers' modules, loaded now: the engine starts this process while the program is still
// loading and reading the fleet, so they are in memory before the first Check arrives, instead of
// loading when it does (about 0.2 s of every preview; docs/performance.md). The `__provider` text
// of each resource (provider/serialized-provider.ts) then finds them loaded.
require('./compiled').load('provider/dynamic-provider');
require('@pulumi/pulumi/cmd/dynamic-provider');
