// What aegisd hands a libkrun worker on its stdin (never on its command line): where the guest's root is
// composed from, the VM's size, how libkrun's init starts the harness, and where the console and the
// control socket go. Built from a MachineSpec here; the worker only executes it.
import type { MachineSpec } from '../backend.js';
import { harnessCommand, type RuntimeInfo } from '../runtime/node-runtime.js';
import { RLIMIT_NOFILE } from './libkrun-api.js';
import type { LibkrunMachineDirs } from './machine-state.js';

/** The virtio-console port the harness serves the control channel on (it finds it by this name in /sys/class/virtio-ports). */
export const CONTROL_PORT_NAME = 'aegis';
/** Where the guest runtime (node, its libraries, the harness) appears in the guest. */
export const GUEST_RUNTIME = '/.aegis';
/** Open files per process in the guest: a VM's kernel default of 1024 is low for servers. */
const GUEST_NOFILE = 65_536;
const GUEST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface WorkerSpec {
  /** The libkrun shared library to load. */
  library: string;
  /** The guest's root, composed by the worker in its own mount namespace and shared with the VM over virtiofs. */
  root: {
    /** Where the root is assembled (an empty directory in the machine's dir). */
    mountpoint: string;
    /** The read-only tree of the machine's image (its layers flattened). */
    lower: string;
    /** The ext4 disk that holds the machine's changes (upper/ and work/): its size bounds them. */
    disk: string;
    /** Where that disk is mounted. */
    diskMount: string;
    /** Bound read-only at GUEST_RUNTIME. */
    runtime: string;
    /** Bound read-write at /workspace. */
    workspace?: string;
  };
  vcpus: number;
  /** The VM's RAM: the workload's memory plus the guest kernel's and the harness's share. */
  ramMiB: number;
  /** What libkrun's init runs (krun_set_exec): the harness on the guest runtime. */
  exec: { path: string; args: string[]; env: string[] };
  workdir: string;
  /** krun_set_rlimits entries, "ID=CUR:MAX". */
  rlimits: string[];
  /** The file the guest's stdout and stderr (the harness's lines) are appended to. */
  console: string;
  /** The unix socket the worker serves the control port on. */
  controlSocket: string;
}

export function workerSpec(spec: MachineSpec, opts: { library: string; dirs: LibkrunMachineDirs; lower: string; disk: string; runtimeDir: string; runtime: RuntimeInfo; ramMiB: number }): WorkerSpec {
  const [path, ...args] = harnessCommand(GUEST_RUNTIME, opts.runtime);
  return {
    library: opts.library,
    root: {
      mountpoint: opts.dirs.root,
      lower: opts.lower,
      disk: opts.disk,
      diskMount: opts.dirs.layer,
      runtime: opts.runtimeDir,
      ...(spec.workspaceDir ? { workspace: spec.workspaceDir } : {}),
    },
    vcpus: spec.vcpus,
    ramMiB: opts.ramMiB,
    exec: {
      path,
      args,
      // The harness's own environment: no secrets ever (workloads get theirs through the control channel).
      // libkrun passes it to its init on the guest kernel's command line.
      env: [`PATH=${GUEST_PATH}`, 'HOME=/root', `HOSTNAME=${spec.hostname}`, `AEGIS_CONTROL_PORT_NAME=${CONTROL_PORT_NAME}`, 'AEGIS_OWN_CLOCK=1'],
    },
    workdir: '/',
    rlimits: [`${RLIMIT_NOFILE}=${GUEST_NOFILE}:${GUEST_NOFILE}`],
    console: opts.dirs.console,
    controlSocket: opts.dirs.socket,
  };
}
