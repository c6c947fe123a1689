// A libkrun machine's files and its record on disk, so that a restarted daemon can re-adopt the running worker.
import path from 'node:path';
import type { MachineSpec } from '../backend.js';

export interface LibkrunMachineRecord {
  backend: 'libkrun';
  id: string;
  /** Host pid of the worker process: the VM lives and dies with it. */
  pid: number;
  /** The pid's start time (clock ticks since boot), which tells a recycled pid apart. */
  pidStartTime: number;
  /** The library the worker loaded. */
  library: string;
  /** The guest runtime bound at /.aegis (so an unused older runtime can be deleted safely). */
  runtimeDir: string;
  /** The VM's RAM in MiB (the workload's memory plus the guest kernel's and harness's share). */
  guestMemoryMiB: number;
  spec: MachineSpec;
  startedAt: string;
}

export interface LibkrunMachineDirs {
  dir: string;
  /** Where the worker assembles the guest's root (mounted in the worker's own mount namespace only). */
  root: string;
  /** Where the worker mounts the machine's writable disk. */
  layer: string;
  /** The machine's own writable disk, when it has no state dir to keep one in. */
  disk: string;
  /** The unix socket the worker serves the guest's control port on. */
  socket: string;
  /** The guest's stdout and stderr: the harness's lines. */
  console: string;
  /** The worker's stderr: libkrun's messages, the guest kernel's console, and the worker's own last words. */
  workerLog: string;
  state: string;
}

export function libkrunMachineDirs(machinesDir: string, id: string): LibkrunMachineDirs {
  const dir = path.join(machinesDir, id);
  return {
    dir,
    root: path.join(dir, 'root'),
    layer: path.join(dir, 'layer'),
    disk: path.join(dir, 'upper.ext4'),
    socket: path.join(dir, 'control.sock'),
    console: path.join(dir, 'console.log'),
    workerLog: path.join(dir, 'worker.log'),
    state: path.join(dir, 'state.json'),
  };
}
