// Registers each kind's controller with the manager and hands the API the routes that need controller state.
import type { Limits } from '../config/daemon-config.js';
import type { AegisPaths } from '../config/paths.js';
import type { RouteRegistrar } from '../api/app.js';
import { imageRoutes } from '../api/routes/images.js';
import { appRoutes } from '../api/routes/apps.js';
import { instanceLogRoutes } from '../api/routes/instance-logs.js';
import { instanceRoutes } from '../api/routes/instances.js';
import { secretRoutes } from '../api/routes/secrets.js';
import { taskRoutes } from '../api/routes/tasks.js';
import type { ImageStore } from '../images/image-store.js';
import { TaskLogs } from '../logs/task-logs.js';
import { Controller, type ReconcileResult } from '../reconciler/controller.js';
import type { Kind } from '../resources/kinds.js';
import { AppReconciler } from '../reconciler/controllers/app.js';
import { InstanceReconciler } from '../reconciler/controllers/instance.js';
import { ReleaseReconciler } from '../reconciler/controllers/release.js';
import { RouterDirectory } from '../lifecycle/router-directory.js';
import type { IdleTimes } from '../lifecycle/instance-plan.js';
import { InstanceLogs } from '../logs/instance-log.js';
import { SecretMasks } from '../logs/secret-masks.js';
import type { ConnectionLimiter } from '../router/connection-limiter.js';
import { DaemonPortListeners } from './port-listeners.js';
import { TaskReconciler } from '../reconciler/controllers/task.js';
import { MachinePool } from '../lifecycle/machine-pool.js';
import type { ControllerManager } from '../reconciler/manager.js';
import type { Store } from '../store/store.js';
import type { MachineHost } from '../vmm/machine-host.js';

/** How often every key is reconciled again without an event, so drift is repaired. */
const RESYNC_MS = 60_000;

export interface ControllerRuntime {
  routes: RouteRegistrar[];
  /** What the router routes to: the served instances. */
  directory: RouterDirectory;
  close(): Promise<void>;
}

export function registerControllers(deps: {
  store: Store;
  manager: ControllerManager;
  paths: AegisPaths;
  host: () => Promise<MachineHost>;
  images: ImageStore;
  limits: Limits;
  onError: (kind: string, key: string, err: unknown, terminal: boolean) => void;
  /** Booted machines kept ready for tasks (0 disables the pool). */
  warmMachines: number;
  idleDefaults: IdleTimes;
  listen: { host: string; wakeTimeoutMs: number; limiter: ConnectionLimiter; routerUrl: () => string | undefined };
}): ControllerRuntime {
  const { store, manager } = deps;
  const logs = new TaskLogs(deps.paths.logs, deps.limits.taskLog);
  // Machines' output is stored with secret values masked, so no log reader ever sees them.
  const masks = new SecretMasks(store);
  const pool = new MachinePool(deps.host, deps.paths.machines, deps.warmMachines);
  // Warming up is best effort: when no backend can run, tasks report that themselves.
  void pool.start().catch(() => undefined);
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
  const tasks = new TaskReconciler({ store, logs, host: deps.host, pool, images: deps.images, masks });
  // Tasks are independent: several may boot at once.
  register('Task', tasks.reconcile, 4);
  register('App', new AppReconciler({ store, workspacesDir: deps.paths.workspaces, images: deps.images }).reconcile, 2);
  // Each publish pulls an image: two at once share the link without starving each other.
  register('Release', new ReleaseReconciler({ store, images: deps.images }).reconcile, 2);
  const instanceLogs = new InstanceLogs(deps.paths.logs, { masks });
  let directory: RouterDirectory | undefined;
  const instances = new InstanceReconciler({
    store,
    images: deps.images,
    host: deps.host,
    logs: instanceLogs,
    listeners: new DaemonPortListeners(() => directory!, deps.listen),
    workspacesDir: deps.paths.workspaces,
    instancesDir: deps.paths.instances,
    idleDefaults: deps.idleDefaults,
  });
  directory = new RouterDirectory(instances);
  register('Instance', instances.reconcile, 4);
  // An app's status depends on its kit, secrets and releases: any change to those re-checks every app.
  const unwatch = store.onChange((e) => {
    if (e.kind === 'Secret' || e.kind === 'Kit' || e.kind === 'Release') for (const a of store.list('App')) manager.enqueue('App', a.metadata.name);
    // A changed app or a new release may mean its instances must restart on the new definition.
    if (e.kind === 'App' || e.kind === 'Release') for (const i of store.list('Instance')) if (i.spec.app) manager.enqueue('Instance', i.metadata.name);
  });
  return {
    routes: [taskRoutes(logs), imageRoutes(deps.images), appRoutes, secretRoutes, instanceRoutes(instances), instanceLogRoutes(instanceLogs)],
    directory,
    close: async () => {
      unwatch();
      await instances.close();
      instanceLogs.close();
      await tasks.close();
      await pool.close();
      masks.close();
    },
  };
}
