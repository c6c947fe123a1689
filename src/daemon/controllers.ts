// Registers each kind's controller with the manager, over the lifecycle the daemon built before them.
import type { AegisPaths } from '../config/paths.js';
import type { ImageStore } from '../images/image-store.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import { Controller, type ReconcileResult } from '../reconciler/controller.js';
import type { Kind } from '../resources/kinds.js';
import { AppReconciler } from '../reconciler/controllers/app.js';
import { InstanceReconciler } from '../reconciler/controllers/instance.js';
import { ReleaseReconciler } from '../reconciler/controllers/release.js';
import { TaskReconciler } from '../reconciler/controllers/task.js';
import type { ControllerManager, Triggers } from '../reconciler/manager.js';
import type { Store } from '../store/store.js';

/** How often every key is reconciled again without an event, so drift is repaired. */
const RESYNC_MS = 60_000;

export interface Controllers {
  /** Lets go of what the controllers hold (task runners stop; instances are the supervisor's). */
  close(): Promise<void>;
}

export function registerControllers(deps: {
  store: Store;
  manager: ControllerManager;
  paths: AegisPaths;
  images: ImageStore;
  lifecycle: Lifecycle;
  /** Where the router listens, when it does (instance endpoints show it). */
  routerUrl: string | undefined;
  onError: (kind: string, key: string, err: unknown, terminal: boolean) => void;
}): Controllers {
  const { store, manager, lifecycle } = deps;
  /** One controller per kind, its keys the resource names, resynced so drift is repaired. */
  const register = (kind: Kind, reconciler: { reconcile: (name: string) => Promise<ReconcileResult | void>; triggers?: Triggers }, workers: number) =>
    manager.register(
      kind,
      new Controller<string>({
        name: kind.toLowerCase(),
        reconcile: reconciler.reconcile,
        workers,
        resyncMs: RESYNC_MS,
        listKeys: () => store.list(kind).map((r) => r.metadata.name),
        onError: (key, err, terminal) => deps.onError(kind, key, err, terminal),
      }),
      reconciler.triggers,
    );
  const tasks = new TaskReconciler({ store, logs: lifecycle.taskLogs, host: lifecycle.host, pool: lifecycle.pool, images: deps.images, masks: lifecycle.masks, machines: lifecycle.taskMachines });
  // Tasks are independent: several may boot at once.
  register('Task', tasks, 4);
  register('App', new AppReconciler({ store, workspacesDir: deps.paths.workspaces, images: deps.images }), 2);
  // Each publish pulls an image: two at once share the link without starving each other.
  register('Release', new ReleaseReconciler({ store, images: deps.images }), 2);
  const instances = new InstanceReconciler({ store, supervisor: lifecycle.supervisor, host: lifecycle.host, routerUrl: deps.routerUrl });
  register('Instance', instances, 4);
  return {
    close: async () => {
      await tasks.close();
    },
  };
}
