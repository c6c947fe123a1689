// The qemu-system-x86_64 command line of one machine: a microvm (virtio-mmio devices, no firmware
// detour, ACPI kept on because this kernel cannot take virtio-mmio devices from its command line),
// two read-only disks (rootfs, runtime), a virtio-serial port for the control channel, user-mode
// networking when egress is allowed, QMP, and qemu's own confinement (qemu-confinement.ts).
import { CONTROL_PORT_NAME } from './init-script.js';
import { confinementArgs, type Confinement } from './qemu-confinement.js';

export type Accel = 'kvm' | 'tcg';

export interface QemuLaunch {
  accel: Accel;
  memoryMiB: number;
  vcpus: number;
  kernel: string;
  initrd: string;
  /** Extra kernel parameters (aegis.*). */
  params: string[];
  console: string;
  /** Absent for a probe boot, which never leaves the initramfs. */
  rootImage?: string;
  runtimeImage?: string;
  /** A writable disk for the rootfs's upper layer that outlives the VM (an instance's state). */
  upperImage?: string;
  /** A writable disk mounted at /workspace (the app's). */
  workspaceImage?: string;
  controlSocket?: string;
  qmpSocket?: string;
  /** Wait for a memory snapshot over QMP (`migrate-incoming`) instead of booting. */
  incoming?: boolean;
  /** User-mode networking (slirp): the guest reaches out through qemu's own host sockets. */
  network?: boolean;
  /** Seccomp always; chroot and uid when given. */
  confinement: Confinement;
}

/**
 * The guest kernel's command line. tsc_early_khz/tsc=reliable: without them TSC calibration under TCG
 * hangs now and then. panic=-1 with -no-reboot turns the harness's exit (PID 1 dies) into qemu exiting.
 */
export function kernelCommandLine(params: string[]): string {
  return ['console=ttyS0', 'panic=-1', 'tsc_early_khz=2000000', 'tsc=reliable', 'quiet', ...params].join(' ');
}

/** Kernel parameters naming the writable disks' guest devices: they follow vda (rootfs) and vdb (runtime). */
export function writableDiskParams(l: Pick<QemuLaunch, 'upperImage' | 'workspaceImage'>): string[] {
  const params: string[] = [];
  let next = 'c'.charCodeAt(0);
  if (l.upperImage) params.push(`aegis.upper=vd${String.fromCharCode(next++)}`);
  if (l.workspaceImage) params.push(`aegis.workspace=vd${String.fromCharCode(next++)}`);
  return params;
}

export function qemuArgs(l: QemuLaunch): string[] {
  // The paths go through qemu's option parser, where ',' separates options: doubling escapes it.
  const q = (p: string) => p.replace(/,/g, ',,');
  const args = [
    '-M', `microvm,accel=${l.accel},acpi=on`,
    '-cpu', l.accel === 'kvm' ? 'host' : 'max',
    '-m', String(l.memoryMiB),
    '-smp', String(l.vcpus),
    '-nodefaults', '-no-user-config',
    // No display and nothing on stdio (-nographic would put the serial port or a monitor there).
    '-display', 'none',
    '-no-reboot',
    '-kernel', l.kernel,
    '-initrd', l.initrd,
    '-append', kernelCommandLine(l.params),
    // Appended, so that writes after the daemon cuts the file back (console-cap.ts) land at its new end.
    '-chardev', `file,id=console,path=${l.console.replace(/,/g, ',,')},append=on`,
    '-serial', 'chardev:console',
  ];
  if (l.rootImage) args.push('-drive', `id=root,file=${q(l.rootImage)},format=raw,if=none,readonly=on`, '-device', 'virtio-blk-device,drive=root');
  if (l.runtimeImage) args.push('-drive', `id=runtime,file=${q(l.runtimeImage)},format=raw,if=none,readonly=on`, '-device', 'virtio-blk-device,drive=runtime');
  // The guest names disks by their order here: writableDiskParams tells it which is which. auto-read-only
  // off: -drive's default reopens a writable disk read-only by its path when a snapshot save stops the
  // writes, and a chrooted qemu cannot open that path.
  const writable = (id: string, image: string) => ['-drive', `id=${id},file=${q(image)},format=raw,if=none,auto-read-only=off`, '-device', `virtio-blk-device,drive=${id}`];
  if (l.upperImage) args.push(...writable('upper', l.upperImage));
  if (l.workspaceImage) args.push(...writable('workspace', l.workspaceImage));
  if (l.controlSocket) {
    args.push(
      '-device', 'virtio-serial-device',
      '-chardev', `socket,id=ctl,path=${q(l.controlSocket)},server=on,wait=off`,
      '-device', `virtserialport,chardev=ctl,name=${CONTROL_PORT_NAME}`,
    );
  }
  // IPv4 only: the guest's side is 10.0.2.15/24 with qemu at .2 (gateway) and .3 (DNS forwarder).
  if (l.network) args.push('-netdev', 'user,id=net,ipv6=off', '-device', 'virtio-net-device,netdev=net');
  if (l.qmpSocket) args.push('-qmp', `unix:${q(l.qmpSocket)},server=on,wait=off`);
  if (l.incoming) args.push('-incoming', 'defer');
  args.push(...confinementArgs(l.confinement));
  return args;
}
