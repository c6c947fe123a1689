// A sandbox machine's record on disk, so that a restarted daemon can find and re-adopt it.
import fs from 'node:fs';
import { readRecord as readRecordFile, writeRecord as writeRecordFile } from '../record-file.js';
import path from 'node:path';
import type { MachineSpec } from '../backend.js';
import type { CgroupVersion } from './cgroups.js';
import type { IdRange } from './id-ranges.js';

export interface MachineRecord {
  backend: 'sandbox';
  id: string;
  /** Host pid of the machine's unshare process (the parent of the guest's PID 1). */
  pid: number;
  /** The pid's start time (clock ticks since boot), which tells a recycled pid apart. */
  pidStartTime: number;
  cgroupVersion: CgroupVersion;
  /** The machine's cgroup directories (v1: one per controller; v2: `unified`). Absent in older records. */
  cgroupDirs?: Record<string, string>;
  /**
   * The host ids the machine's user namespace maps its guest ids to (id-ranges.ts), released when it is
   * destroyed. Absent when guest root is host root (sandbox.allowHostRoot) and in older records.
   */
  idRange?: IdRange;
  /** The guest runtime mounted at /.aegis (so an unused older runtime can be deleted safely). */
  runtimeDir?: string;
  /**
   * Host path of the harness's control socket, in records of machines started before the socket moved into
   * the guest (see sandbox-machine.ts); absent now.
   */
  socketPath?: string;
  spec: MachineSpec;
  startedAt: string;
}

export interface MachineDirs {
  dir: string;
  root: string;
  /** Where the machine's writable disk is attached, inside its own mount namespace only. */
  layer: string;
  /** The machine's own writable disk, when it has no state dir to keep one in. */
  disk: string;
  /** The guest's mounts below its root, read by `mount -a` (see guest-mounts.ts). */
  fstab: string;
  /** Where the harness's lifeline pipe is made (and at once unlinked: see launch-script.ts). */
  lifeline: string;
  console: string;
  state: string;
}

export function machineDirs(machinesDir: string, id: string): MachineDirs {
  const dir = path.join(machinesDir, id);
  return {
    dir,
    root: path.join(dir, 'root'),
    layer: path.join(dir, 'layer'),
    disk: path.join(dir, 'upper.ext4'),
    fstab: path.join(dir, 'fstab'),
    lifeline: path.join(dir, 'lifeline'),
    console: path.join(dir, 'console.log'),
    state: path.join(dir, 'state.json'),
  };
}

export function writeRecord(file: string, record: MachineRecord): void {
  writeRecordFile(file, record);
}

export function readRecord(file: string): MachineRecord | undefined {
  return readRecordFile<MachineRecord>(file);
}

/** The pid of the guest's PID 1 on the host: the only child of the unshare process. */
export function guestInitPid(unsharePid: number): number | undefined {
  try {
    const children = fs.readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim();
    const first = children.split(' ')[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The harness's control socket as the host reaches it: through the guest init's root, so the path below it
 * resolves in the guest's mount namespace (where /.aegis-control is a tmpfs mount the guest cannot move).
 */
export function guestControlSocket(initPid: number, guestSocket: string): string {
  return `/proc/${initPid}/root${guestSocket}`;
}
