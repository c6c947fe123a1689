// The only contract between the reconciler and machine backends (sandbox, qemu, libkrun).
// It knows nothing about resources or HTTP: a machine is a rootfs, limits and one control stream.
import type { Duplex } from 'node:stream';
import type { NetworkPolicy } from '../resources/network-policy.js';

export type BackendName = 'sandbox' | 'qemu' | 'libkrun';

export interface BackendCapabilities {
  pauseResume: boolean;
  memorySnapshots: boolean;
  bootFromDiskLayers: boolean;
  /** Whether a host directory can be mounted at /workspace (MachineSpec.workspaceDir). */
  workspaceMounts: boolean;
  isolation: 'vm' | 'namespace';
}

/** Whether a backend can run on this host, and if not, why (shown by `aegis doctor`). */
export interface BackendProbe {
  available: boolean;
  /** One line: what is missing, or what was found. */
  detail: string;
}

/** What bounds every machine of a backend on the host's disk (`limits:` in config.yaml). */
export interface MachineLimits {
  /** Default size of a machine's writable disk (MachineSpec.diskMiB overrides it). */
  diskMiB: number;
  /** A console file past this is cut back (see console-cap.ts). */
  consoleBytes: number;
}

export interface MachineSpec {
  /** Stable id; the machine's state lives in `$AEGIS_HOME/data/machines/<id>/`. */
  id: string;
  hostname: string;
  /** Read-only layers, lowest first; the machine writes to its own upper layer. */
  rootfsLayers: string[];
  memoryMiB: number;
  vcpus: number;
  /** Host directory mounted read-write at /workspace, if any. */
  workspaceDir?: string;
  /**
   * Host directory that holds the machine's writable rootfs layer and outlives the machine (an instance
   * keeps its changes across stop and start). Absent: the layer is the machine's and goes with it.
   */
  stateDir?: string;
  /** Size of the disk that holds the machine's rootfs changes (default: the backend's MachineLimits). */
  diskMiB?: number;
  /** Where the machine may connect to (absent: egress `all`); `none` gives it no network device at all. */
  network?: NetworkPolicy;
  /**
   * With stateDir on a backend with memory snapshots: what the workload running in the machine is (its
   * command, env, release). A saved snapshot is restored only under the same key, else it is discarded.
   */
  snapshotKey?: string;
}

export type MachineState = 'running' | 'paused' | 'exited';

export interface MachineExit {
  /** Exit code of the machine's PID 1 (the harness), or null when it was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface MachineStats {
  /** Times the kernel's OOM killer fired inside the machine's memory limit. */
  oomKills: number;
  memoryLimitBytes: number;
  /** Memory the machine uses now, when the backend can tell (the sandbox's cgroup). */
  memoryBytes?: number;
  /** CPU time used so far, in microseconds, when the backend can tell: idle detection watches it grow. */
  cpuMicros?: number;
}

export interface Machine {
  readonly id: string;
  readonly pid: number;
  /** File the machine's console output goes to (boot messages, the harness's own lines), if it has one. */
  readonly consoleFile?: string;
  state(): MachineState;
  /** Opens the control byte stream to the harness, waiting until it listens (or the machine exits). */
  connect(timeoutMs?: number): Promise<Duplex>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Graceful stop: SIGTERM to PID 1, then SIGKILL after graceMs; resolves when the machine is gone. */
  stop(graceMs?: number): Promise<MachineExit>;
  /**
   * Backends with memory snapshots: saves the machine's memory into its spec's stateDir and ends it, so
   * that the next start() with that stateDir and snapshotKey resumes it instead of booting.
   */
  suspend?(): Promise<void>;
  /** True when start() resumed a saved snapshot: the harness and its main process are already running. */
  readonly restored?: boolean;
  /** How the start went, when worth a line in the log (e.g. why a saved snapshot could not be used). */
  readonly note?: string;
  stats(): Promise<MachineStats>;
  /** Resolves once when the machine's process has exited (for any reason). */
  readonly exited: Promise<MachineExit>;
}

export interface Backend {
  readonly name: BackendName;
  readonly capabilities: BackendCapabilities;
  /** How long a boot may take before it counts as failed: seconds for a VM under software emulation. */
  readonly bootTimeoutMs: number;
  probe(): Promise<BackendProbe>;
  start(spec: MachineSpec): Promise<Machine>;
  /** Re-attaches to a machine recorded by an earlier daemon; undefined when it no longer runs. */
  adopt(id: string): Promise<Machine | undefined>;
  /** Removes the machine's recorded state and writable layer after it has exited. */
  destroy(id: string): Promise<void>;
}

/** Thrown when an operation is invalid in the machine's current state (e.g. pause of an exited machine). */
export class MachineStateError extends Error {
  constructor(op: string, state: MachineState) {
    super(`cannot ${op} a machine that is ${state}`);
    this.name = 'MachineStateError';
  }
}
