// What the API layer is handed by the daemon, in one object: the store (handlers write desired state, nothing
// else; the controllers watch it), the lifecycle's logs and running instances (exec, keepalive), the image
// cache, the recorded events, and facts for /v1/status.
import type { WatchStatus } from '../apply/directory-watcher.js';
import type { AegisPaths } from '../config/paths.js';
import type { ImageStore } from '../images/image-store.js';
import type { InstanceExec, InstanceExecRequest } from '../lifecycle/instance-exec.js';
import type { InstanceLogs } from '../logs/instance-log.js';
import type { MachineFiles } from '../lifecycle/machine-files.js';
import type { TaskMachines } from '../lifecycle/task-machines.js';
import type { TaskLogs } from '../logs/task-logs.js';
import type { ResourceEvent } from '../store/event-recorder.js';
import type { Store } from '../store/store.js';
import type { BackendReport } from '../vmm/select-backend.js';

/** The running instances as the API may touch them (the instance supervisor, or a test's fake). */
export interface RunningInstances {
  /** Keeps an instance awake as a request would; false when this daemon does not run it. */
  touch(uid: string): boolean;
  /** Runs a command in a running or paused instance; AEGIS_CONFLICT when it is stopped. */
  exec(uid: string, req: InstanceExecRequest): Promise<InstanceExec>;
  /** File operations in a running or paused instance; `label` names it in errors (as the client did). */
  files(uid: string, label: string): MachineFiles;
}

export interface ApiLifecycle {
  instances: RunningInstances;
  taskLogs: TaskLogs;
  instanceLogs: InstanceLogs;
  /** Running tasks' machines: file operations, and the start/release points of `aegis run --copy/--artifacts`. */
  taskMachines: TaskMachines;
}

export interface ApiServices {
  store: Store;
  paths: AegisPaths;
  version: string;
  startedAt: Date;
  backend: BackendReport;
  lifecycle: ApiLifecycle;
  images: ImageStore;
  /** A resource's recent events by uid (for `aegis describe`). */
  events: { of(uid: string): ResourceEvent[] };
  /** Where the router listens (`http://127.0.0.1:8099`); absent when it could not listen. */
  routerUrl?: string;
  /** The watched directory's last apply, when a directory is watched. */
  watchStatus?: () => WatchStatus | undefined;
}
