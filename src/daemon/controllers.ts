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
import type { ControllerManager } from '../reconciler/manager.js';
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
  const register = (kind: Kind, reconcile: (name: string) => Promise<ReconcileResult | void>, workers: number) =>
    manager.register(
      kind,
      new Controller<string>({
        name: kind.toLowerCase(),
        reconcile,
        workers,
        resyncMs: RESYNC_MS,
        listKeys: () => store.list(kind).map((r) => r.metadata.name),
        onError: (key, err, terminal) => deps.onError(kind, key, err, terminal),
      }),
    );
  const tasks = new TaskReconciler({ store, logs: lifecycle.taskLogs, host: lifecycle.host, pool: lifecycle.pool, images: deps.images, masks: lifecycle.masks });
  // Tasks are independent: several may boot at once.
  register('Task', tasks.reconcile, 4);
  register('App', new AppReconciler({ store, workspacesDir: deps.paths.workspaces, images: deps.images }).reconcile, 2);
  // Each publish pulls an image: two at once share the link without starving each other.
  register('Release', new ReleaseReconciler({ store, images: deps.images }).reconcile, 2);
  const instances = new InstanceReconciler({ store, supervisor: lifecycle.supervisor, routerUrl: deps.routerUrl });
  register('Instance', instances.reconcile, 4);
  // An app's status depends on its kit, secrets and releases: any change to those re-checks every app.
  const unwatch = store.onChange((e) => {
    if (e.kind === 'Secret' || e.kind === 'Kit' || e.kind === 'Release') for (const a of store.list('App')) manager.enqueue('App', a.metadata.name);
    // A changed app or a new release may mean its instances must restart on the new definition.
    if (e.kind === 'App' || e.kind === 'Release') for (const i of store.list('Instance')) if (i.spec.app) manager.enqueue('Instance', i.metadata.name);
  });
  return {
    close: async () => {
      unwatch();
      instances.close();
      await tasks.close();
    },
  };
}
