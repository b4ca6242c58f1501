#!/usr/bin/env node
// The `fleet` command: cli/, compiled when dist/ is current, else through ts-node
// (bin/compiled.js; the test suite type-checks everything).
// The Automation API requires Pulumi's runtime whole; its closure serializer is never used here.
require('./defer-closures');
require('./compiled').load('cli/index').main(process.argv).catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
