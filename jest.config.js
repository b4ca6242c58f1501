/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // What bin/defer-closures.js does for the project's processes, for the test files themselves
  // (jest's registry runs no require hooks): the Automation API loads without the closure
  // serializer, about a CPU-second less for each file that opens a stack.
  moduleNameMapper: { '^\\./closure/(serializeClosure|codePaths)$': '<rootDir>/test/helpers/deferred/$1.js' },
  // Engine tests run real `pulumi` processes; on a 2-core machine they need time, not retries.
  testTimeout: 240000,
  // Three files at once on 2 cores: an engine file spends much of its time waiting (for the
  // CLI's processes, for devices to poll), and a third file keeps both cores busy.
  maxWorkers: 3,
  // Each file's tests in a random order, the seed printed (`--seed=<n>` repeats it): no test may
  // lean on another having run first (docs/development.md, "Tests").
  randomize: true,
  showSeed: true,
  verbose: true,
};
