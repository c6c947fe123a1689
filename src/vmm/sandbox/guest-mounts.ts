// The guest's mount table below its root: written as an fstab file so one `mount -a` makes them all.
// (One util-linux `mount` per entry cost ~4 ms each, a third of a sandbox boot.)
import { invalid } from '../../errors/codes.js';

export interface GuestMountPaths {
  /** The machine's root mountpoint on the host (the rootfs overlay is already mounted there). */
  root: string;
  /** The shared /dev template (device nodes, symlinks); this machine's layer over it is on its disk. */
  devTemplate: string;
  /** Where the machine's writable disk is mounted (dev-upper/ and dev-work/ hold /dev's changes). */
  layerDir: string;
  /** The Node runtime, bind-mounted read-only at /.aegis. */
  runtimeDir: string;
  workspaceDir?: string;
  /** The machine's memory limit: the guest's tmpfs mounts are sized inside it. */
  memoryMiB: number;
  /** Whether the host has a /proc entry (the kernel is the same); fs.existsSync in practice. */
  hostHas: (procPath: string) => boolean;
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

/** Root-writable, host-wide /proc entries that not every kernel has (CONFIG_MAGIC_SYSRQ, SMP). */
const OPTIONAL_PROC_RO = ['sysrq-trigger', 'irq'];

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
  const at = (sub: string) => `${p.root}/${sub}`;
  const size = tmpfsSizes(p.memoryMiB);
  const rows: [string, string, string, string][] = [
    // hidepid=ptraceable: a process sees only the processes it may ptrace, whatever its group, so the
    // workload never sees the harness (PID 1, non-dumpable, of another real uid): not its memory, fds or env.
    ['proc', at('proc'), 'proc', 'nosuid,nodev,noexec,hidepid=ptraceable'],
    // Sysctls are host-wide and guarded only by uid 0 (not by a capability): guest root could otherwise set
    // kernel.core_pattern to a pipe that the host kernel runs as host root. Read-only, like container runtimes.
    [at('proc/sys'), at('proc/sys'), 'none', 'bind,ro,nosuid,nodev,noexec'],
    // Also host-wide and root-writable, where this kernel has them (the guest's procfs shows the same kernel).
    ...OPTIONAL_PROC_RO.filter((f) => p.hostHas(`/proc/${f}`)).map((f): [string, string, string, string] => [at(`proc/${f}`), at(`proc/${f}`), 'none', 'bind,ro,nosuid,nodev,noexec']),
    // Read-only, and in the machine's own net namespace it lists only lo.
    ['sysfs', at('sys'), 'sysfs', 'ro,nosuid,nodev,noexec'],
    // A writable layer over the shared template: null, zero, full, random, urandom, tty and the fd links.
    ['overlay', at('dev'), 'overlay', `lowerdir=${p.devTemplate},upperdir=${devUpper},workdir=${devWork},nosuid`],
    ['devpts', at('dev/pts'), 'devpts', 'newinstance,ptmxmode=0666,mode=0620,nosuid,noexec'],
    ['tmpfs', at('dev/shm'), 'tmpfs', `nosuid,nodev,mode=1777,size=${size.shm}m`],
    ['tmpfs', at('tmp'), 'tmpfs', `nosuid,nodev,mode=1777,size=${size.tmp}m`],
    ['tmpfs', at('run'), 'tmpfs', `nosuid,nodev,mode=755,size=${size.run}m`],
    [p.runtimeDir, at('.aegis'), 'none', 'bind,ro,nosuid,nodev'],
    ['tmpfs', at('.aegis-control'), 'tmpfs', `nosuid,nodev,noexec,${CONTROL_TMPFS}`],
  ];
  if (p.workspaceDir) rows.push([p.workspaceDir, at('workspace'), 'none', 'bind,nodev']);
  return rows.map(([src, target, type, opts]) => `${fstabField(src)} ${fstabField(target)} ${type} ${fstabField(opts)} 0 0\n`).join('');
}
