// The machine lifecycle as the daemon builds it, before the router and the controllers that use it: the
// instance supervisor (with the router's directory and the per-port listeners), the warm pool for tasks, and
// the logs that machines' output goes to with secret values masked.
import type { AegisPaths } from '../config/paths.js';
import type { ImageStore } from '../images/image-store.js';
import { InstanceLogs } from '../logs/instance-log.js';
import { SecretMasks } from '../logs/secret-masks.js';
import { TaskLogs } from '../logs/task-logs.js';
import type { InstancePortListenersOptions } from '../router/port-listeners.js';
import type { Store } from '../store/store.js';
import type { MachineHost } from '../vmm/machine-host.js';
import type { IdleTimes } from './instance-plan.js';
import { InstanceSupervisor } from './instance-supervisor.js';
import { MachinePool } from './machine-pool.js';
import { TaskMachines } from './task-machines.js';

export interface Lifecycle {
  /** The backend and base rootfs, prepared once; rejects when no backend can run here. */
  host: () => Promise<MachineHost>;
  supervisor: InstanceSupervisor;
  pool: MachinePool;
  taskLogs: TaskLogs;
  /** The running tasks' machines (file operations) and the points where tasks wait for their client. */
  taskMachines: TaskMachines;
  instanceLogs: InstanceLogs;
  /** Secret values masked in every machine's output, so no log reader ever sees them. */
  masks: SecretMasks;
  /** Daemon shutdown: instance machines keep running for the next daemon; pooled ones stop. */
  close(): Promise<void>;
}

export function startLifecycle(deps: {
  store: Store;
  images: ImageStore;
  host: () => Promise<MachineHost>;
  paths: AegisPaths;
  taskLogBytes: number;
  idleDefaults: IdleTimes;
  ports: InstancePortListenersOptions;
  /** Booted machines kept ready for tasks (0 disables the pool). */
  warmMachines: number;
}): Lifecycle {
  const { store, paths } = deps;
  const masks = new SecretMasks(store);
  const instanceLogs = new InstanceLogs(paths.logs, { masks });
  const taskLogs = new TaskLogs(paths.logs, deps.taskLogBytes);
  const pool = new MachinePool(deps.host, paths.machines, deps.warmMachines);
  // Warming up is best effort: when no backend can run, tasks report that themselves.
  void pool.start().catch(() => undefined);
  const supervisor = new InstanceSupervisor({
    store,
    images: deps.images,
    host: deps.host,
    logs: instanceLogs,
    ports: deps.ports,
    workspacesDir: paths.workspaces,
    instancesDir: paths.instances,
    idleDefaults: deps.idleDefaults,
  });
  return {
    host: deps.host,
    supervisor,
    pool,
    taskLogs,
    taskMachines: new TaskMachines(),
    instanceLogs,
    masks,
    close: async () => {
      await supervisor.close();
      instanceLogs.close();
      await pool.close();
      masks.close();
    },
  };
}
