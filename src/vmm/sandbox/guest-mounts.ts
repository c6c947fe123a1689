// The guest's mount table below its root: written as an fstab file so one `mount -a` makes them all.
// (One util-linux `mount` per entry cost ~4 ms each, a third of a sandbox boot.)
import { invalid } from '../../errors/codes.js';

export interface GuestMountPaths {
  /** The machine's root mountpoint on the host (the rootfs overlay is already mounted there). */
  root: string;
  /** The shared /dev template (device nodes, symlinks) and this machine's writable layer over it. */
  devTemplate: string;
  devUpper: string;
  devWork: string;
  /** The Node runtime, bind-mounted read-only at /.aegis. */
  runtimeDir: string;
  /** Host dir holding the control socket, bind-mounted at /.aegis-control. */
  controlDir: string;
  workspaceDir?: string;
  /** Whether the host has a /proc entry (the kernel is the same); fs.existsSync in practice. */
  hostHas: (procPath: string) => boolean;
}

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
  for (const [v, what] of [[p.devTemplate, 'dev template'], [p.devUpper, 'machine dir'], [p.devWork, 'machine dir']] as const) assertOverlayPath(v, what);
  const at = (sub: string) => `${p.root}/${sub}`;
  const rows: [string, string, string, string][] = [
    ['proc', at('proc'), 'proc', 'nosuid,nodev,noexec'],
    // Sysctls are host-wide and guarded only by uid 0 (not by a capability): guest root could otherwise set
    // kernel.core_pattern to a pipe that the host kernel runs as host root. Read-only, like container runtimes.
    [at('proc/sys'), at('proc/sys'), 'none', 'bind,ro,nosuid,nodev,noexec'],
    // Also host-wide and root-writable, where this kernel has them (the guest's procfs shows the same kernel).
    ...OPTIONAL_PROC_RO.filter((f) => p.hostHas(`/proc/${f}`)).map((f): [string, string, string, string] => [at(`proc/${f}`), at(`proc/${f}`), 'none', 'bind,ro,nosuid,nodev,noexec']),
    // Read-only, and in the machine's own net namespace it lists only lo.
    ['sysfs', at('sys'), 'sysfs', 'ro,nosuid,nodev,noexec'],
    // A writable layer over the shared template: null, zero, full, random, urandom, tty and the fd links.
    ['overlay', at('dev'), 'overlay', `lowerdir=${p.devTemplate},upperdir=${p.devUpper},workdir=${p.devWork},nosuid`],
    ['devpts', at('dev/pts'), 'devpts', 'newinstance,ptmxmode=0666,mode=0620,nosuid,noexec'],
    ['tmpfs', at('dev/shm'), 'tmpfs', 'nosuid,nodev,mode=1777'],
    ['tmpfs', at('tmp'), 'tmpfs', 'nosuid,nodev,mode=1777'],
    ['tmpfs', at('run'), 'tmpfs', 'nosuid,nodev,mode=755'],
    [p.runtimeDir, at('.aegis'), 'none', 'bind,ro,nosuid,nodev'],
    [p.controlDir, at('.aegis-control'), 'none', 'bind,nosuid,nodev,noexec'],
  ];
  if (p.workspaceDir) rows.push([p.workspaceDir, at('workspace'), 'none', 'bind,nodev']);
  return rows.map(([src, target, type, opts]) => `${fstabField(src)} ${fstabField(target)} ${type} ${fstabField(opts)} 0 0\n`).join('');
}
