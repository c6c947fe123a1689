// Mounts the daemon makes for a machine before it starts, with the kernel's mount API (open_tree,
// fsmount, mount_setattr): they are detached (no path names them) and held as fds, and the machine's
// setup attaches each in its own mount namespace (`mount -c --move /proc/DAEMON/fd/N TARGET`). This is
// how a host directory is shown to a guest with its ids shifted into the guest's range (an idmapped
// mount), which the mount(8) of util-linux 2.38 (Debian 12) cannot make.
import fs from 'node:fs';
import { check, lastError, syscall } from '../../util/libc.js';
import { attachLoopDevice } from './loop-device.js';

// The same numbers on every architecture (the unified syscall table).
const SYS_OPEN_TREE = 428;
const SYS_FSOPEN = 430;
const SYS_FSCONFIG = 431;
const SYS_FSMOUNT = 432;
const SYS_MOUNT_SETATTR = 442;

const OPEN_TREE_CLONE = 1;
const O_CLOEXEC = 0o2000000;
const AT_EMPTY_PATH = 0x1000;
const FSOPEN_CLOEXEC = 1;
const FSCONFIG_SET_STRING = 1;
const FSCONFIG_CMD_CREATE = 6;
const FSMOUNT_CLOEXEC = 1;

export const MOUNT_ATTR = { RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, IDMAP: 0x100000 } as const;

/** Where a process that may read the daemon's fds (root, before it leaves the host's /proc) finds `fd`. */
export const daemonFdPath = (fd: number) => `/proc/${process.pid}/fd/${fd}`;

/**
 * A detached copy of the mount at `dir` (that directory and what is below it on the same mount),
 * with `attrs` (MOUNT_ATTR flags) set and, with `idmapUserns`, its ids shown through that user
 * namespace's maps: a file owned by id N on disk then belongs to whatever N maps to. Returns its fd.
 */
export function cloneDirectory(dir: string, opts: { attrs?: number; idmapUserns?: number } = {}): number {
  const fd = syscall(SYS_OPEN_TREE, 'int', -100 /* AT_FDCWD */, 'const char *', dir, 'unsigned int', OPEN_TREE_CLONE | O_CLOEXEC);
  check(fd, 'open_tree', dir);
  try {
    setMountAttributes(fd, opts, dir);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

/**
 * Mounts the ext4 disk `image` (through a loop device that clears itself) as a detached mount and
 * returns its fd. `prepare` runs on the plain mount first (through /proc/self/fd: the daemon's own view),
 * then `opts` apply: a mount can take an idmapping only before anything has used it as a path.
 */
export function mountDiskImage(image: string, prepare: (root: string) => void, opts: { attrs?: number; idmapUserns?: number } = {}): number {
  const loop = attachLoopDevice(image);
  let fsFd = -1;
  let mountFd = -1;
  try {
    fsFd = syscall(SYS_FSOPEN, 'const char *', 'ext4', 'unsigned int', FSOPEN_CLOEXEC);
    check(fsFd, 'fsopen', 'ext4');
    fsconfig(fsFd, FSCONFIG_SET_STRING, 'source', loop.device, image);
    fsconfig(fsFd, FSCONFIG_CMD_CREATE, null, null, image);
    mountFd = syscall(SYS_FSMOUNT, 'int', fsFd, 'unsigned int', FSMOUNT_CLOEXEC, 'unsigned int', 0);
    check(mountFd, 'fsmount', image);
    prepare(`/proc/self/fd/${mountFd}`);
    setMountAttributes(mountFd, opts, image);
    return mountFd;
  } catch (err) {
    if (mountFd >= 0) fs.closeSync(mountFd);
    throw err;
  } finally {
    if (fsFd >= 0) fs.closeSync(fsFd);
    // The superblock holds the device open now; with autoclear it detaches when the mount goes.
    fs.closeSync(loop.fd);
  }
}

function fsconfig(fsFd: number, cmd: number, key: string | null, value: string | null, what: string): void {
  if (syscall(SYS_FSCONFIG, 'int', fsFd, 'unsigned int', cmd, 'const char *', key, 'const char *', value, 'int', 0) === 0) return;
  const err = lastError('fsconfig', what);
  // The filesystem says why (e.g. "ext4: VFS: Can't find ext4 filesystem") on the context's fd.
  const reason = readContextLog(fsFd);
  if (reason) err.message += ` (${reason})`;
  throw err;
}

function readContextLog(fsFd: number): string {
  const lines: string[] = [];
  const buf = Buffer.alloc(1024);
  for (let i = 0; i < 8; i++) {
    try {
      const n = fs.readSync(fsFd, buf);
      if (n <= 0) break;
      lines.push(buf.subarray(0, n).toString('utf8').replace(/^[ewi] /, ''));
    } catch {
      break; // ENODATA: nothing (more) logged
    }
  }
  return lines.join('; ');
}

function setMountAttributes(fd: number, opts: { attrs?: number; idmapUserns?: number }, what: string): void {
  const attrSet = (opts.attrs ?? 0) | (opts.idmapUserns !== undefined ? MOUNT_ATTR.IDMAP : 0);
  if (attrSet === 0) return;
  const attr = Buffer.alloc(32); // struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd }
  attr.writeBigUInt64LE(BigInt(attrSet), 0);
  if (opts.idmapUserns !== undefined) attr.writeBigUInt64LE(BigInt(opts.idmapUserns), 24);
  const rc = syscall(SYS_MOUNT_SETATTR, 'int', fd, 'const char *', '', 'unsigned int', AT_EMPTY_PATH, 'void *', attr, 'size_t', attr.length);
  check(rc, 'mount_setattr', what);
}
