// A sandbox machine's record on disk, so that a restarted daemon can find and re-adopt it.
import fs from 'node:fs';
import { readRecord as readRecordFile, writeRecord as writeRecordFile } from '../record-file.js';
import path from 'node:path';
import type { MachineSpec } from '../backend.js';
import type { CgroupVersion } from './cgroups.js';

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
  /** The guest runtime mounted at /.aegis (so an unused older runtime can be deleted safely). */
  runtimeDir?: string;
  /** Host path of the harness's control socket. */
  socketPath?: string;
  spec: MachineSpec;
  startedAt: string;
}

export interface MachineDirs {
  dir: string;
  root: string;
  upper: string;
  work: string;
  /** The machine's writable layer over the shared /dev template. */
  devUpper: string;
  devWork: string;
  /** The guest's mounts below its root, read by `mount -a` (see guest-mounts.ts). */
  fstab: string;
  control: string;
  socket: string;
  console: string;
  state: string;
}

export function machineDirs(machinesDir: string, id: string): MachineDirs {
  const dir = path.join(machinesDir, id);
  return {
    dir,
    root: path.join(dir, 'root'),
    upper: path.join(dir, 'upper'),
    work: path.join(dir, 'work'),
    devUpper: path.join(dir, 'dev-upper'),
    devWork: path.join(dir, 'dev-work'),
    fstab: path.join(dir, 'fstab'),
    control: path.join(dir, 'control'),
    socket: path.join(dir, 'control', 'control.sock'),
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
