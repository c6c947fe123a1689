// The few libc calls Node has no binding for (mknod, mkfifo, setxattr, flock, openat2, socketpair, ioctl,
// raw syscalls), through koffi.
// Each ran as a child process before, which cost milliseconds per call: an image with many whiteouts felt it.
import os from 'node:os';
import koffi from 'koffi';

interface Libc {
  mknod: (path: string, mode: number, dev: number) => number;
  mkfifo: (path: string, mode: number) => number;
  setxattr: (path: string, name: string, value: Buffer, size: number, flags: number) => number;
  flock: (fd: number, operation: number) => number;
  socketpair: (domain: number, type: number, protocol: number, fds: Int32Array) => number;
  ioctl: (fd: number, request: number, arg: Buffer | null) => number;
  /** Variadic: each argument after the number is a (type, value) pair. */
  syscall: (nr: number, ...typedArgs: unknown[]) => number | bigint;
}

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  const lib = koffi.load('libc.so.6');
  libc = {
    mknod: lib.func('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
    mkfifo: lib.func('int mkfifo(const char *path, uint32_t mode)'),
    setxattr: lib.func('int setxattr(const char *path, const char *name, const void *value, size_t size, int flags)'),
    flock: lib.func('int flock(int fd, int operation)'),
    socketpair: lib.func('int socketpair(int domain, int type, int protocol, int *sv)'),
    ioctl: lib.func('int ioctl(int fd, unsigned long request, void *arg)'),
    syscall: lib.func('long syscall(long number, ...)'),
  };
  return libc;
}

/** A Node-style error (code `EEXIST`, …) for the errno the last libc call left. */
export function lastError(call: string, file: string): NodeJS.ErrnoException {
  const errno = koffi.errno();
  const code = Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
  return Object.assign(new Error(`${call} ${file}: ${code}`), { code, errno, path: file });
}

/** Throws `lastError` when a libc call returned -1. */
export function check(rc: number, call: string, file: string): void {
  if (rc < 0) throw lastError(call, file);
}

/**
 * syscall(2) for calls glibc has no wrapper for. Each argument after the number is a (type, value) pair;
 * returns the raw result: -1 with errno set on failure (see `check`).
 */
export function syscall(nr: number, ...typedArgs: unknown[]): number {
  return Number(load().syscall(nr, ...typedArgs));
}

/** ioctl(fd, request, arg): -1 with errno set on failure (see `check`). */
export function ioctl(fd: number, request: number, arg: Buffer | null = null): number {
  return load().ioctl(fd, request, arg);
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

const LOCK_EX = 2;
const LOCK_NB = 4;

/** flock(LOCK_EX | LOCK_NB): false when another open file description holds the lock. */
export function tryLockExclusive(fd: number, file: string): boolean {
  const rc = load().flock(fd, LOCK_EX | LOCK_NB);
  if (rc === 0) return true;
  if (koffi.errno() === os.constants.errno.EWOULDBLOCK) return false;
  check(rc, 'flock', file);
  return false;
}

/** flock(LOCK_EX), waiting for it; for locks held a few milliseconds at most (it blocks the thread). */
export function lockExclusive(fd: number, file: string): void {
  check(load().flock(fd, LOCK_EX), 'flock', file);
}

const SYS_OPENAT2 = 437; // the same number on every architecture (the unified syscall table)
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_BENEATH = 0x08;

/**
 * openat2(dirFd, rel, {flags, resolve: BENEATH | NO_MAGICLINKS}): the kernel refuses (EXDEV) any
 * resolution that leaves dirFd, through `..` or a symlink, at the moment of the open, so no check can be
 * raced. Linux 5.6+; ENOSYS before.
 */
export function openBeneath(dirFd: number, rel: string, flags: number): number {
  const how = Buffer.alloc(24); // struct open_how { u64 flags; u64 mode; u64 resolve; }
  how.writeBigUInt64LE(BigInt(flags), 0);
  how.writeBigUInt64LE(BigInt(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), 16);
  const fd = syscall(SYS_OPENAT2, 'int', dirFd, 'const char *', rel, 'void *', how, 'size_t', how.length);
  check(fd, 'openat2', rel);
  return fd;
}

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;

/** A connected pair of unix stream sockets, close-on-exec: two fds that each read what the other writes. */
export function socketPair(): [number, number] {
  const fds = new Int32Array(2);
  check(load().socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 'socketpair', 'AF_UNIX');
  return [fds[0], fds[1]];
}
