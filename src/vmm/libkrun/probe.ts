// Can the libkrun backend run here? It needs libkrun (and libkrunfw) installed on the host.
import fs from 'node:fs';
import type { BackendProbe } from '../backend.js';

export const LIBKRUN_PATHS = [
  '/opt/homebrew/lib/libkrun.dylib',
  '/usr/local/lib/libkrun.dylib',
  '/usr/lib/libkrun.so',
  '/usr/local/lib/libkrun.so',
  '/usr/lib64/libkrun.so',
  '/usr/lib/x86_64-linux-gnu/libkrun.so',
  '/usr/lib/aarch64-linux-gnu/libkrun.so',
];

export async function probeLibkrun(): Promise<BackendProbe> {
  const found = LIBKRUN_PATHS.find((p) => fs.existsSync(p));
  return found
    ? { available: false, detail: `${found} found, but the libkrun backend is not implemented in this build` }
    : { available: false, detail: 'libkrun not found (it is not packaged for Debian)' };
}
