#!/usr/bin/env node
// The `fleet` command runs the TypeScript sources directly; transpile-only keeps start-up fast
// (the test suite type-checks everything).
require('ts-node').register({ transpileOnly: true, project: require('node:path').join(__dirname, '..', 'tsconfig.json') });
require('../cli/index.ts').main(process.argv).catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
