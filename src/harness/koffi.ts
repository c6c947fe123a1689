// The runtime's copy of koffi (lib/koffi.node under /.aegis), loaded once: Node has no call for seccomp or
// terminals, so the harness makes those through libc with it.
import path from 'node:path';
import { RUNTIME_DIR } from './runtime-dir.js';

const KOFFI = path.join(RUNTIME_DIR, 'lib', 'koffi.node');

export interface Koffi {
  load(lib: string): { func(signature: string): (...args: unknown[]) => number | bigint };
  address(buf: Buffer): bigint;
  errno(): number;
}

let loaded: Koffi | undefined;

export function koffi(): Koffi {
  if (loaded) return loaded;
  const module = { exports: {} as Koffi };
  process.dlopen(module, KOFFI);
  return (loaded = module.exports);
}
