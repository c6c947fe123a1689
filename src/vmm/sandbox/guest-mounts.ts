// The guest's mount table below its root: written as an fstab file so one `mount -a` makes them all.
// (One util-linux `mount` per entry cost ~4 ms each, a third of a sandbox boot.)
import { invalid } from '../../errors/codes.js';

export interface GuestMountPaths {
  /** The machine's root mountpoint on the host (the rootfs overlay is already mounted there). */
  root: string;
  /** The shared /dev template (device nodes, symlinks); this machine's layer over it is on its disk. */
  devTemplate: string;
  /** Where the machine's writable disk is attached (dev-upper/ and dev-work/ hold /dev's changes). */
  layerDir: string;
  /** The Node runtime, bind-mounted read-only at /.aegis. */
  runtimeDir: string;
  workspaceDir?: string;
  /** The machine's memory limit: the guest's tmpfs mounts are sized inside it. */
  memoryMiB: number;
  /** Guest root's host uid and gid (the first of the machine's id range); absent when guest root is host root. */
  guestRootId?: number;
  /** Whether the host has a /proc or /sys entry (the kernel is the same); fs.existsSync in practice. */
  hostHas: (path: string) => boolean;
}

/**
 * tmpfs pages are memory charged to the machine and no OOM kill frees them: sized together well below
 * the workload's share of the limit, so filling /tmp ends in ENOSPC and leaves room for the harness.
 */
export function tmpfsSizes(memoryMiB: number): { tmp: number; shm: number; run: number; sysvShmPages: number } {
  const mib = (share: number) => Math.max(1, Math.floor(memoryMiB * share));
  // /dev/shm's share again for System V segments (4 KiB pages), which outlive their processes just as well.
  return { tmp: mib(1 / 2), shm: mib(1 / 8), run: mib(1 / 16), sysvShmPages: mib(1 / 8) * 256 };
}

/** The control socket's tmpfs: a socket file is all it holds. */
const CONTROL_TMPFS = 'size=64k,nr_inodes=16,mode=700';

/**
 * Host-wide kernel state, masked and made read-only as runc and Docker do by default. Only where this
 * kernel has the entry (the guest's procfs and sysfs show the same kernel; a missing mount point fails
 * mount -a). Read-only: root-writable knobs (sysctls, sysrq, IRQ affinity, binfmt_misc and the like).
 * Sysctls are host-wide and guarded by uid 0 alone (not a capability): a guest root that is host root
 * (sandbox.allowHostRoot) could otherwise set kernel.core_pattern to a pipe the host kernel runs as root.
 */
const READ_ONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];
/** Hidden behind /dev/null: the host's memory image, keys, timers and scheduler internals. */
const MASKED_FILES = ['/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug'];
/** Hidden behind an empty read-only tmpfs: hardware and firmware interfaces. */
const MASKED_DIRS = ['/proc/acpi', '/proc/asound', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'];

/** Directories of the rootfs that must be real directories before anything is mounted on them. */
export const GUEST_MOUNT_POINTS = ['proc', 'sys', 'dev', 'tmp', 'run', '.aegis', '.aegis-control', 'workspace'];

/** Escapes one fstab field the way getmntent/libmount unescape it (octal for blanks and backslash). */
export function fstabField(value: string): string {
  return value.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/** Paths inside overlay options: ',' ends an option and ':' separates lower layers, so neither may appear. */
export function assertOverlayPath(p: string, what: string): void {
  if (/[,:\\\n]/.test(p)) throw invalid(`${what} ${p} contains ',', ':', '\\' or a newline, which overlayfs options cannot carry`);
}

/** The fstab, in mount order (a mount's parent comes before it). */
export function guestFstab(p: GuestMountPaths): string {
  const devUpper = `${p.layerDir}/dev-upper`;
  const devWork = `${p.layerDir}/dev-work`;
  for (const [v, what] of [[p.devTemplate, 'dev template'], [devUpper, 'machine dir'], [devWork, 'machine dir']] as const) assertOverlayPath(v, what);
  const at = (sub: string) => `${p.root}/${sub.replace(/^\//, '')}`;
  const size = tmpfsSizes(p.memoryMiB);
  // tmpfs roots belong to their mounter: with a user namespace, make that guest root.
  const owner = p.guestRootId === undefined ? '' : `,uid=${p.guestRootId},gid=${p.guestRootId}`;
  type Row = [string, string, string, string];
  const hardening = (under: string): Row[] => [
    ...READ_ONLY.filter((f) => f.startsWith(under) && p.hostHas(f)).map((f): Row => [at(f), at(f), 'none', 'bind,ro,nosuid,nodev,noexec']),
    ...MASKED_FILES.filter((f) => f.startsWith(under) && p.hostHas(f)).map((f): Row => ['/dev/null', at(f), 'none', 'bind,ro']),
    ...MASKED_DIRS.filter((f) => f.startsWith(under) && p.hostHas(f)).map((f): Row => ['tmpfs', at(f), 'tmpfs', 'ro,nosuid,nodev,noexec,size=4k,mode=555']),
  ];
  const rows: Row[] = [
    // hidepid=ptraceable: a process sees only the processes it may ptrace, whatever its group, so the
    // workload never sees the harness (PID 1, non-dumpable, of another real uid): not its memory, fds or env.
    ['proc', at('proc'), 'proc', 'nosuid,nodev,noexec,hidepid=ptraceable'],
    ...hardening('/proc/'),
    // Read-only, and in the machine's own net namespace it lists only lo.
    ['sysfs', at('sys'), 'sysfs', 'ro,nosuid,nodev,noexec'],
    ...hardening('/sys/'),
    // A writable layer over the shared template: null, zero, full, random, urandom, tty and the fd links.
    ['overlay', at('dev'), 'overlay', `lowerdir=${p.devTemplate},upperdir=${devUpper},workdir=${devWork},nosuid`],
    ['devpts', at('dev/pts'), 'devpts', 'newinstance,ptmxmode=0666,mode=0620,nosuid,noexec'],
    ['tmpfs', at('dev/shm'), 'tmpfs', `nosuid,nodev,mode=1777,size=${size.shm}m${owner}`],
    ['tmpfs', at('tmp'), 'tmpfs', `nosuid,nodev,mode=1777,size=${size.tmp}m${owner}`],
    ['tmpfs', at('run'), 'tmpfs', `nosuid,nodev,mode=755,size=${size.run}m${owner}`],
    [p.runtimeDir, at('.aegis'), 'none', 'bind,ro,nosuid,nodev'],
    ['tmpfs', at('.aegis-control'), 'tmpfs', `nosuid,nodev,noexec,${CONTROL_TMPFS}${owner}`],
  ];
  if (p.workspaceDir) rows.push([p.workspaceDir, at('workspace'), 'none', 'bind,nosuid,nodev']);
  return rows.map(([src, target, type, opts]) => `${fstabField(src)} ${fstabField(target)} ${type} ${fstabField(opts)} 0 0\n`).join('');
}
