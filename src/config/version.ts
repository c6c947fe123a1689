// The aegis package root and running version, found from this module wherever the build put it (dist/ or a bundle).
// Named imports: see paths.ts.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the aegis package root');
    dir = up;
  }
  return dir;
}

export const PACKAGE_ROOT = findPackageRoot();
export const AEGIS_VERSION: string = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version;
