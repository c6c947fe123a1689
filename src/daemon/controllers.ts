// Registers each kind's controller with the manager and hands the API the routes that need controller state.
import type { AegisPaths } from '../config/paths.js';
import type { RouteRegistrar } from '../api/app.js';
import { imageRoutes } from '../api/routes/images.js';
import { taskRoutes } from '../api/routes/tasks.js';
import type { ImageStore } from '../images/image-store.js';
import { TaskLogs } from '../logs/task-logs.js';
import { Controller } from '../reconciler/controller.js';
import { TaskReconciler } from '../reconciler/controllers/task.js';
import { MachinePool } from '../reconciler/tasks/machine-pool.js';
import type { ControllerManager } from '../reconciler/manager.js';
import type { Store } from '../store/store.js';
import type { MachineHost } from '../vmm/machine-host.js';

/** How often every key is reconciled again without an event, so drift is repaired. */
const RESYNC_MS = 60_000;

export interface ControllerRuntime {
  routes: RouteRegistrar[];
  close(): Promise<void>;
}

export function registerControllers(deps: {
  store: Store;
  manager: ControllerManager;
  paths: AegisPaths;
  host: () => Promise<MachineHost>;
  images: ImageStore;
  onError: (kind: string, key: string, err: unknown, terminal: boolean) => void;
  /** Booted machines kept ready for tasks (0 disables the pool). */
  warmMachines: number;
}): ControllerRuntime {
  const { store, manager } = deps;
  const logs = new TaskLogs(deps.paths.logs);
  const pool = new MachinePool(deps.host, deps.paths.machines, deps.warmMachines);
  // Warming up is best effort: when no backend can run, tasks report that themselves.
  void pool.start().catch(() => undefined);
  const tasks = new TaskReconciler({ store, logs, host: deps.host, pool, images: deps.images });
  manager.register(
    'Task',
    new Controller<string>({
      name: 'task',
      reconcile: tasks.reconcile,
      // Tasks are independent: several may boot at once.
      workers: 4,
      resyncMs: RESYNC_MS,
      listKeys: () => store.list('Task').map((t) => t.metadata.name),
      onError: (key, err, terminal) => deps.onError('Task', key, err, terminal),
    }),
  );
  return {
    routes: [taskRoutes(logs), imageRoutes(deps.images)],
    close: async () => {
      await tasks.close();
      await pool.close();
    },
  };
}
