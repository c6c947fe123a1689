// Keeps a machine's user-mode networking (qemu's slirp, the sandbox's slirp4netns) to its policy, and always off the
// host's loopback and private networks. The network stack opens ordinary host sockets for the guest, so a
// guest reaching 10.0.0.2:5432 is really qemu or slirp4netns connecting there; a cgroup v2 BPF program on the
// connect and UDP sendmsg hooks refuses such destinations (EPERM) for every process in the cgroup, while the
// internet (or what an allow-list names) and the machine's DNS resolvers (port 53 of exactly those addresses)
// stay reachable. A third program, on socket creation, keeps the cgroup to TCP and UDP sockets: ICMP and raw
// sockets would pass the other two unseen. Loaded through the raw bpf(2) syscall: no libbpf, and the bytecode comes from egress-bpf.ts.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import koffi from 'koffi';
import { removeCgroup } from '../remove-cgroup.js';
import { buildEgressProgram, buildSocketProgram, EMPTY_POLICY, hostEgressPolicy, type EgressPolicy, type Family } from './egress-bpf.js';

const SYS_BPF: Partial<Record<string, number>> = { x64: 321, arm64: 280 };

const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_DETACH = 9;
const BPF_PROG_GET_FD_BY_ID = 13;
const BPF_OBJ_GET_INFO_BY_FD = 15;
const BPF_PROG_QUERY = 16;
const BPF_PROG_TYPE_CGROUP_SOCK = 9;
const BPF_PROG_TYPE_CGROUP_SOCK_ADDR = 18;
const BPF_F_ALLOW_MULTI = 1 << 1;
/** BPF_CGROUP_MAX_PROGS: no cgroup hook holds more. */
const MAX_PROGS = 64;
const LOG_SIZE = 1 << 20;

interface Hook {
  /** The program name (at most 15 characters): how a later daemon recognises its own attachment. */
  name: string;
  progType: number;
  attachType: number;
  build: (policy: EgressPolicy) => Buffer;
}

const addrHook = (name: string, family: Family, attachType: number): Hook => ({
  name,
  progType: BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
  attachType,
  build: (policy) => buildEgressProgram(family, policy),
});

// The kernel insists that a sock_addr program's expected_attach_type equals the hook it is attached to.
// UDP connect() goes through the connect hooks too; sendmsg covers unconnected sendto(). The socket hook
// does not depend on the policy.
const HOOKS: Hook[] = [
  addrHook('aegis_egr4_conn', 4, 10), // BPF_CGROUP_INET4_CONNECT
  addrHook('aegis_egr6_conn', 6, 11), // BPF_CGROUP_INET6_CONNECT
  addrHook('aegis_egr4_send', 4, 14), // BPF_CGROUP_UDP4_SENDMSG
  addrHook('aegis_egr6_send', 6, 15), // BPF_CGROUP_UDP6_SENDMSG
  { name: 'aegis_egr_sock', progType: BPF_PROG_TYPE_CGROUP_SOCK, attachType: 2, build: buildSocketProgram }, // BPF_CGROUP_INET_SOCK_CREATE
];

type Syscall = (nr: number, ...args: unknown[]) => number;
let syscall: Syscall | undefined;

function errnoName(errno: number): string {
  return Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
}

/** bpf(cmd, attr, size); throws `bpf(NAME) failed: EPERM` with `code` set. */
function bpf(cmd: number, name: string, attr: Buffer): number {
  const nr = SYS_BPF[process.arch];
  if (nr === undefined) throw new Error(`bpf(2) syscall number unknown on ${process.arch}`);
  syscall ??= koffi.load('libc.so.6').func('long syscall(long number, ...)') as Syscall;
  const rc = Number(syscall(nr, 'int', cmd, 'void *', attr, 'uint32_t', attr.length));
  if (rc >= 0) return rc;
  const code = errnoName(koffi.errno());
  throw Object.assign(new Error(`bpf(${name}) failed: ${code}`), { code });
}

const ptr = (buf: Buffer) => koffi.address(buf);

function closeFd(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    /* already gone: nothing to release */
  }
}

/** Loads one hook's program; returns its fd. On a verifier rejection the error carries the log. */
function loadProgram(hook: Hook, policy: EgressPolicy = EMPTY_POLICY): number {
  const insns = hook.build(policy);
  const license = Buffer.from('Dual MIT/GPL\0');
  const attr = Buffer.alloc(72);
  const fill = (log?: Buffer) => {
    attr.writeUInt32LE(hook.progType, 0);
    attr.writeUInt32LE(insns.length / 8, 4);
    attr.writeBigUInt64LE(ptr(insns), 8);
    attr.writeBigUInt64LE(ptr(license), 16);
    attr.writeUInt32LE(log ? 1 : 0, 24);
    attr.writeUInt32LE(log?.length ?? 0, 28);
    attr.writeBigUInt64LE(log ? ptr(log) : 0n, 32);
    attr.write(hook.name, 48, 15, 'latin1');
    attr.writeUInt32LE(hook.attachType, 68);
  };
  // First without a log (cheap, and a full log buffer can itself fail the load), then again for the log.
  fill();
  try {
    return bpf(BPF_PROG_LOAD, 'BPF_PROG_LOAD', attr);
  } catch (e) {
    const log = Buffer.alloc(LOG_SIZE);
    fill(log);
    try {
      return bpf(BPF_PROG_LOAD, 'BPF_PROG_LOAD', attr);
    } catch {
      const text = log.toString('latin1', 0, log.indexOf(0)).trim();
      const tail = text.split('\n').slice(-8).join(' | ');
      throw Object.assign(new Error(`${(e as Error).message}${tail ? `; verifier: ${tail}` : ''}`), {
        code: (e as NodeJS.ErrnoException).code,
        verifierLog: text,
      });
    }
  }
}

/** Loaded programs by hook and bytecode, kept open: most machines share a policy (egress all), and a load is the slow part. */
const loaded = new Map<string, number>();
const MAX_LOADED = 16;

/** The fd of a loaded program for this hook and policy, loaded once; the cache owns it (never close it). */
function sharedProgram(hook: Hook, policy: EgressPolicy): number {
  const key = `${hook.name} ${crypto.createHash('sha256').update(hook.build(policy)).digest('hex')}`;
  let fd = loaded.get(key);
  if (fd === undefined) {
    fd = loadProgram(hook, policy);
    loaded.set(key, fd);
    // Allow-lists make programs of their own, one per DNS answer: keep only the most recent few.
    for (const [old, oldFd] of loaded) {
      if (loaded.size <= MAX_LOADED) break;
      loaded.delete(old);
      closeFd(oldFd);
    }
  } else {
    // Most recently used last.
    loaded.delete(key);
    loaded.set(key, fd);
  }
  return fd;
}

interface ProgInfo {
  id: number;
  tag: string;
  name: string;
}

function progInfo(fd: number): ProgInfo {
  const info = Buffer.alloc(80); // struct bpf_prog_info up to the end of name[16]
  const attr = Buffer.alloc(16);
  attr.writeUInt32LE(fd, 0);
  attr.writeUInt32LE(info.length, 4);
  attr.writeBigUInt64LE(ptr(info), 8);
  bpf(BPF_OBJ_GET_INFO_BY_FD, 'BPF_OBJ_GET_INFO_BY_FD', attr);
  const name = info.subarray(64, 80);
  return { id: info.readUInt32LE(4), tag: info.toString('hex', 8, 16), name: name.toString('latin1', 0, name.indexOf(0)) };
}

function progFdById(id: number): number {
  const attr = Buffer.alloc(12);
  attr.writeUInt32LE(id, 0);
  return bpf(BPF_PROG_GET_FD_BY_ID, 'BPF_PROG_GET_FD_BY_ID', attr);
}

/** Ids of the programs attached to this cgroup itself (not inherited) at one hook. */
function attachedIds(cgroupFd: number, attachType: number): number[] {
  const ids = Buffer.alloc(MAX_PROGS * 4);
  const attr = Buffer.alloc(32);
  attr.writeUInt32LE(cgroupFd, 0);
  attr.writeUInt32LE(attachType, 4);
  attr.writeBigUInt64LE(ptr(ids), 16);
  attr.writeUInt32LE(MAX_PROGS, 24);
  bpf(BPF_PROG_QUERY, 'BPF_PROG_QUERY', attr);
  return Array.from({ length: attr.readUInt32LE(24) }, (_, i) => ids.readUInt32LE(i * 4));
}

function attachCmd(cmd: number, name: string, cgroupFd: number, progFd: number, attachType: number, flags: number): void {
  const attr = Buffer.alloc(20);
  attr.writeUInt32LE(cgroupFd, 0);
  attr.writeUInt32LE(progFd, 4);
  attr.writeUInt32LE(attachType, 8);
  attr.writeUInt32LE(flags, 12);
  bpf(cmd, name, attr);
}

/** Where cgroup2 is mounted: /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid one. */
export function cgroup2Root(): string | undefined {
  let mounts: string;
  try {
    mounts = fs.readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return undefined;
  }
  const roots = mounts
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f[2] === 'cgroup2')
    // Mount paths escape spaces and the like as octal (\040).
    .map((f) => f[1].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  return roots.find((r) => r === '/sys/fs/cgroup' || r === '/sys/fs/cgroup/unified') ?? roots[0];
}

let support: { supported: boolean; detail: string } | undefined;

/** Whether the filter can work here, probed once by loading every hook's program; `detail` is one line. */
export function egressFilterSupport(): { supported: boolean; detail: string } {
  if (support) return support;
  const root = cgroup2Root();
  if (!root) return (support = { supported: false, detail: 'no cgroup2 mount in /proc/self/mounts' });
  try {
    for (const hook of HOOKS) closeFd(loadProgram(hook));
    support = { supported: true, detail: `cgroup BPF connect/sendmsg/socket filter loads (cgroup2 at ${root})` };
  } catch (e) {
    support = { supported: false, detail: `cannot load the egress filter: ${(e as Error).message}` };
  }
  return support;
}

/**
 * Creates (idempotently) `<cgroup2 root>/<name>` and makes sure each hook carries the current filter exactly
 * once, with `policy` (by default the host's own addresses blocked and its resolvers' port 53 open); returns
 * the directory.
 * A filter left by an earlier daemon is recognised by its program name and kept when its tag (a hash of
 * the bytecode) matches, replaced when the bytecode has changed (other host addresses or resolvers, say). The
 * attachments belong to the cgroup, not to our fds: they outlive this process and end when the dir is removed.
 */
export function ensureEgressCgroup(name: string, policy: EgressPolicy = hostEgressPolicy()): string {
  const root = cgroup2Root();
  if (!root) throw new Error('cannot set up the egress filter: no cgroup2 mount in /proc/self/mounts');
  const dir = path.join(root, name);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new Error(`cannot create cgroup ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const cgroupFd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    for (const hook of HOOKS) {
      let progFd: number;
      try {
        progFd = sharedProgram(hook, policy);
      } catch (e) {
        throw new Error(`cannot load the egress filter: ${(e as Error).message}`);
      }
      const stale: number[] = [];
      try {
        const tag = progInfo(progFd).tag;
        let current = false;
        for (const id of attachedIds(cgroupFd, hook.attachType)) {
          const fd = progFdById(id);
          const info = progInfo(fd);
          if (info.name === hook.name && info.tag === tag && !current) {
            current = true;
            closeFd(fd);
          } else if (info.name === hook.name) stale.push(fd);
          else closeFd(fd);
        }
        // Attach before detaching an old version, so the hook is never empty.
        if (!current) attachCmd(BPF_PROG_ATTACH, 'BPF_PROG_ATTACH', cgroupFd, progFd, hook.attachType, BPF_F_ALLOW_MULTI);
        for (const fd of stale) attachCmd(BPF_PROG_DETACH, 'BPF_PROG_DETACH', cgroupFd, fd, hook.attachType, 0);
      } catch (e) {
        throw new Error(`cannot attach the egress filter to ${dir}: ${(e as Error).message}`);
      } finally {
        stale.forEach(closeFd);
      }
    }
  } finally {
    closeFd(cgroupFd);
  }
  return dir;
}

/** The names of the programs attached to `dir` at each filtered hook (for diagnostics and tests). */
export function attachedEgressFilters(dir: string): Record<string, string[]> {
  const cgroupFd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    return Object.fromEntries(
      HOOKS.map((hook) => [
        hook.name,
        attachedIds(cgroupFd, hook.attachType).map((id) => {
          const fd = progFdById(id);
          try {
            return progInfo(fd).name;
          } finally {
            closeFd(fd);
          }
        }),
      ]),
    );
  } finally {
    closeFd(cgroupFd);
  }
}

/**
 * Moves a process into the filtered cgroup. A socket belongs to the cgroup its creator was in when it was
 * made, so join before the process opens the sockets to be filtered (slirp opens one per guest flow, after
 * boot; a process that must be filtered from its first instruction can write its own pid before exec).
 */
export function joinCgroup(dir: string, pid: number): void {
  try {
    fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
  } catch (e) {
    throw new Error(`cannot move pid ${pid} into cgroup ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The pids in a cgroup (none when it is gone). */
export function cgroupPids(dir: string): number[] {
  try {
    return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * SIGKILLs what is left in a filtered cgroup and removes it; its programs go with it. Waits (up to 2 s) for
 * the processes to be reaped and the kernel to let go of the group.
 */
export async function removeEgressCgroup(dir: string): Promise<void> {
  await removeCgroup(dir, () => {
    for (const pid of cgroupPids(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
  });
}
