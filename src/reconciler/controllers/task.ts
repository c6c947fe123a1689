// Task controller: makes sure every pending task has a runner, every deleted one is torn down, and old ones expire.
import { EventEmitter } from 'node:events';
import type { TaskSpec, TaskStatus } from '../../resources/task.js';
import type { Store } from '../../store/store.js';
import type { ImageStore } from '../../images/image-store.js';
import type { TaskLogs } from '../../logs/task-logs.js';
import type { SecretMasks } from '../../logs/secret-masks.js';
import type { MachineHost } from '../../vmm/machine-host.js';
import type { ReconcileResult } from '../controller.js';
import type { Triggers } from '../manager.js';
import type { MachinePool } from '../../lifecycle/machine-pool.js';
import { ensureFinalizer, removeFinalizer } from '../../model/metadata-keys.js';
import { TaskRunner } from '../../lifecycle/task-runner.js';
import { stopLeftover } from '../../lifecycle/boot-machine.js';
import type { TaskMachines } from '../../lifecycle/task-machines.js';

const DEFAULT_TTL_SECONDS = 3600;

export interface TaskControllerDeps {
  store: Store;
  logs: TaskLogs;
  host: () => Promise<MachineHost>;
  pool: MachinePool;
  images: ImageStore;
  masks: SecretMasks;
  machines: TaskMachines;
}

export class TaskReconciler {
  private readonly runners = new Map<string, TaskRunner>();
  private readonly finished = new EventEmitter();

  constructor(private readonly deps: TaskControllerDeps) {}

  /** A task whose runner ended is reconciled again (its expiry scheduled): the runner's own status write does not wake it. */
  readonly triggers: Triggers = {
    events: (enqueue) => {
      this.finished.on('finished', enqueue);
      return () => this.finished.off('finished', enqueue);
    },
  };

  readonly reconcile = async (name: string): Promise<ReconcileResult | void> => {
    const { store, logs } = this.deps;
    const task = store.get<TaskSpec, TaskStatus>('Task', name);
    if (!task) {
      // Gone without passing through its finalizer (a forced delete): still stop its machine.
      const orphan = this.runners.get(name);
      this.runners.delete(name);
      await orphan?.cancel();
      return;
    }
    const uid = task.metadata.uid;
    // Runners are keyed like the work queue, by name, so a task that vanished can still be found.
    const key = task.metadata.name;
    const runner = this.runners.get(key);

    if (task.metadata.deletionTimestamp) {
      await runner?.cancel();
      this.runners.delete(key);
      logs.remove(uid);
      removeFinalizer(store, 'Task', uid);
      return;
    }

    const phase = task.status.phase ?? 'Pending';
    if (phase === 'Succeeded' || phase === 'Failed') {
      this.runners.delete(key);
      const ttlMs = (task.spec.ttlSeconds ?? DEFAULT_TTL_SECONDS) * 1000;
      const left = Date.parse(task.status.finishedAt ?? task.metadata.updatedAt) + ttlMs - Date.now();
      if (left > 0) return { requeueAfterMs: left };
      store.delete('Task', uid);
      return;
    }
    if (runner) return;
    // Tasks created through the generic resource API lack the finalizer that guarantees machine teardown.
    ensureFinalizer(store, 'Task', task);

    if (phase === 'Running') {
      // Running in the store but not here: an earlier daemon owned it and its output stream is gone.
      await this.abandon(uid, task.status.machineId);
      // Failed now: the next pass schedules its expiry (its own status write does not wake it).
      return { requeueAfterMs: 0 };
    }
    const started = new TaskRunner(task, { store, host: this.deps.host, pool: this.deps.pool, images: this.deps.images, log: logs.get(uid), masks: this.deps.masks, machines: this.deps.machines });
    this.runners.set(key, started);
    void started.done.then(() => this.finished.emit('finished', key));
  };

  /** Stops every task machine this daemon runs (daemon shutdown): their output streams end with the daemon. */
  async close(): Promise<void> {
    await Promise.all([...this.runners.values()].map((r) => r.cancel()));
    this.runners.clear();
  }

  private async abandon(uid: string, machineId: string | undefined): Promise<void> {
    const { store } = this.deps;
    // No backend or nothing left to clean: the status below still tells the truth.
    await stopLeftover(this.deps.host, machineId);
    // Its output ends here: a follower waiting on the log finishes instead of hanging.
    this.deps.logs.get(uid).close();
    const cur = store.get<TaskSpec, TaskStatus>('Task', uid);
    if (!cur) return;
    store.updateStatus('Task', uid, {
      ...cur.status,
      phase: 'Failed',
      exitCode: null,
      reason: 'DaemonRestarted',
      message: 'aegisd restarted while the task ran; its machine was stopped',
      finishedAt: new Date().toISOString(),
    });
  }
}
