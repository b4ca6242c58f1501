import * as path from 'node:path';
import { projectRoot as root } from './project-root';

/**
 * What Pulumi stores as each dynamic resource's `__provider` and its dynamic provider host runs:
 * a few lines of module text that find the project folder relative to the working directory
 * (the provider runs in the program's folder) and load provider/dynamic-provider.ts from it. It
 * holds no client, no schema and no absolute path, so the state is portable across machines.
 *
 * Written out rather than left to `pulumi.dynamic.Resource` to serialize: Pulumi's closure
 * serializer loads the TypeScript compiler to read the function back, about 0.7 s of every
 * preview and update for four kinds (docs/performance.md). Stacks that hold the serialized
 * closure of before keep working: it loads provider/implementations.ts, which keeps its shape.
 */
export type ResourceKind = 'ImageRelease' | 'MenderDeployment' | 'DeviceConfiguration' | 'DeviceConfigurationSet';

export function providerSource(kind: ResourceKind, programDir: string = process.cwd()): string {
  const projectRoot = path.relative(programDir, root).split(path.sep).join('/') || '.';
  return [
    'exports.handler = function () {',
    '  const path = require("path");',
    `  const root = path.resolve(process.cwd(), ${JSON.stringify(projectRoot)});`,
    '  // bin/compiled.js loads dist/ when it is current, else the TypeScript sources through ts-node.',
    `  return require(path.join(root, "bin", "compiled")).load("provider/dynamic-provider").dynamicProvider(${JSON.stringify(kind)});`,
    '};',
    '',
  ].join('\n');
}
