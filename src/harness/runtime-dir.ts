// The runtime mounted at /.aegis (this bundle lives in its harness/ directory): its tools run through its
// own loader and libraries, so they work in any image (busybox, musl, glibc).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const RUNTIME_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** How to start the runtime's copy of `name` (bin/NAME): the file to execute and the arguments before the tool's own. */
export function runtimeTool(name: string): { file: string; args: string[] } {
  const { loader } = JSON.parse(fs.readFileSync(path.join(RUNTIME_DIR, 'runtime.json'), 'utf8')) as { loader: string };
  const lib = path.join(RUNTIME_DIR, 'lib');
  return { file: path.join(lib, loader), args: ['--library-path', lib, path.join(RUNTIME_DIR, 'bin', name)] };
}
