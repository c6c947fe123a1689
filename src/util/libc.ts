// The few libc calls Node has no binding for (mknod, mkfifo, setxattr), through koffi. Each ran as a
// child process before, which cost milliseconds per call: an image with many whiteouts felt it.
import os from 'node:os';
import koffi from 'koffi';

interface Libc {
  mknod: (path: string, mode: number, dev: number) => number;
  mkfifo: (path: string, mode: number) => number;
  setxattr: (path: string, name: string, value: Buffer, size: number, flags: number) => number;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  const lib = koffi.load('libc.so.6');
  libc = {
    mknod: lib.func('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
    mkfifo: lib.func('int mkfifo(const char *path, uint32_t mode)'),
    setxattr: lib.func('int setxattr(const char *path, const char *name, const void *value, size_t size, int flags)'),
  };
  return libc;
}

/** Throws a Node-style error (code `EEXIST`, …) when a libc call returned -1. */
function check(rc: number, call: string, file: string): void {
  if (rc === 0) return;
  const errno = koffi.errno();
  const code = Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
  throw Object.assign(new Error(`${call} ${file}: ${code}`), { code, errno, path: file });
}

const S_IFCHR = 0o020000;

/** A character device 0:0, which overlayfs reads as a whiteout. */
export function mknodWhiteout(file: string): void {
  check(load().mknod(file, S_IFCHR, 0), 'mknod', file);
}

export function mkfifo(file: string, mode: number): void {
  check(load().mkfifo(file, mode), 'mkfifo', file);
}

export function setxattr(file: string, name: string, value: string): void {
  const buf = Buffer.from(value);
  check(load().setxattr(file, name, buf, buf.length, 0), 'setxattr', file);
}
