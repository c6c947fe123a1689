// A qemu machine's files and its record on disk, so that a restarted daemon can re-adopt the running qemu.
import path from 'node:path';
import type { MachineSpec } from '../backend.js';
import type { Accel } from './qemu-args.js';
import type { Confinement } from './qemu-confinement.js';

export interface QemuMachineRecord {
  backend: 'qemu';
  id: string;
  /** Host pid of qemu-system-x86_64. */
  pid: number;
  /** The pid's start time (clock ticks since boot), which tells a recycled pid apart. */
  pidStartTime: number;
  accel: Accel;
  /** The guest runtime the runtime disk was made from (so an unused older runtime can be deleted safely). */
  runtimeDir: string;
  /** Host path of the unix socket behind the guest's virtio-serial control port. */
  socketPath: string;
  qmpSocket: string;
  /** What `-m` gave the guest, in MiB (the workload's memory plus the harness's share). */
  guestMemoryMiB: number;
  spec: MachineSpec;
  /** Under which fingerprint suspend() saves a memory snapshot (machines with a state dir). */
  snapshotFingerprint?: string;
  /** Resumed from a memory snapshot rather than booted: the harness was running before this qemu. */
  restored?: boolean;
  /** qemu's chroot and uid (absent in records of machines started before qemu was confined). */
  confinement?: Confinement;
  startedAt: string;
}

export interface QemuMachineDirs {
  dir: string;
  socket: string;
  qmp: string;
  console: string;
  state: string;
  /** The directory qemu chroots into (qemu-confinement.ts). */
  jail: string;
}

export function qemuMachineDirs(machinesDir: string, id: string): QemuMachineDirs {
  const dir = path.join(machinesDir, id);
  return {
    dir,
    socket: path.join(dir, 'control.sock'),
    qmp: path.join(dir, 'qmp.sock'),
    console: path.join(dir, 'console.log'),
    state: path.join(dir, 'state.json'),
    jail: path.join(dir, 'jail'),
  };
}
