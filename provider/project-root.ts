import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The project's folder (where package.json is): one level up from these sources, or two when
 * they run compiled from dist/ (bin/compiled.js).
 */
export function projectRootOf(dir: string): string {
  const up = path.resolve(dir, '..');
  return fs.existsSync(path.join(up, 'package.json')) ? up : path.resolve(up, '..');
}

export const projectRoot = projectRootOf(__dirname);
