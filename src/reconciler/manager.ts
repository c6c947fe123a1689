// ControllerManager: the set of controllers, one per kind, started and stopped together, and the one path by
// which triggers reach them: store writes routed by what each controller declares it watches, and the
// lifecycle events a controller subscribes to.

import type { Controller } from './controller.js';
import type { ReconcileCountsView } from './reconcile-counts.js';

/** The part of a store write a trigger looks at (src/store's StoreEvent). */
export interface WriteEvent {
  type: 'created' | 'updated' | 'deleted';
  kind: string;
  name: string;
  uid: string;
  /** For updates: what was written ('status' = nothing but the status). */
  change?: 'spec' | 'metadata' | 'status';
}

/** Writes of another kind that concern a controller, and the keys of its own kind each one enqueues. */
export interface Watch {
  kind: string;
  keys: (event: WriteEvent) => string[];
  /** Whether status-only writes of that kind count too (default true: a release becoming Ready, say). */
  statusWrites?: boolean;
}

export interface Triggers {
  /** Other kinds this controller's resources depend on. Its own kind is always watched, status-only writes aside. */
  watches?: Watch[];
  /** Subscribes to events from outside the store (a machine exited, a task ended); returns the unsubscribe. */
  events?: (enqueue: (key: string) => void) => () => void;
}

interface Registration {
  controller: Controller<string>;
  watches: Watch[];
  unsubscribe: () => void;
}

/**
 * Routes triggers (store writes, machine exits, harness connects, the directory watcher's applies) to the
 * controller of a kind. Triggers only enqueue keys; they never reconcile themselves. A controller's own
 * status writes do not wake it again: nothing a reconcile needs lives only in status.
 */
export class ControllerManager {
  private readonly controllers = new Map<string, Registration>();
  private state: 'new' | 'running' | 'stopped' = 'new';

  /** Adds the controller for `kind`. Registering a kind twice is a bug and throws. */
  register(kind: string, controller: Controller<string>, triggers: Triggers = {}): void {
    if (this.controllers.has(kind)) throw new Error(`a controller for kind ${kind} is already registered`);
    if (this.state === 'stopped') throw new Error(`cannot register ${kind}: the controller manager has stopped`);
    const unsubscribe = triggers.events?.((key) => controller.enqueue(key)) ?? (() => undefined);
    this.controllers.set(kind, { controller, watches: triggers.watches ?? [], unsubscribe });
    // Late registration joins a running manager rather than silently never starting.
    if (this.state === 'running') controller.start();
  }

  /**
   * Enqueues `key` on the controller for `kind`. A kind without a controller (e.g. Secret, which
   * nothing reconciles) is ignored so that triggers need not know which kinds have controllers; the
   * return value says whether a controller took the key.
   */
  enqueue(kind: string, key: string): boolean {
    const reg = this.controllers.get(kind);
    if (reg === undefined) return false;
    reg.controller.enqueue(key);
    return true;
  }

  /** A store write: wakes the written kind's controller and every controller that watches that kind. */
  written(event: WriteEvent): void {
    if (event.change !== 'status') this.enqueue(event.kind, event.name);
    for (const reg of this.controllers.values()) {
      for (const w of reg.watches) {
        if (w.kind !== event.kind || (event.change === 'status' && w.statusWrites === false)) continue;
        for (const key of w.keys(event)) reg.controller.enqueue(key);
      }
    }
  }

  /** Reconciles run so far, per kind and key. */
  reconcileCounts(): Record<string, ReconcileCountsView> {
    return Object.fromEntries([...this.controllers].map(([kind, reg]) => [kind, reg.controller.counts.view()]));
  }

  /** Starts every registered controller (each runs its startup resync). */
  start(): void {
    if (this.state !== 'new') throw new Error(`controller manager already ${this.state}`);
    this.state = 'running';
    for (const reg of this.controllers.values()) reg.controller.start();
  }

  /**
   * Stops every controller in parallel under one shared deadline. Resolves true if all in-flight
   * reconciles finished in time, false if any was still running at the deadline.
   */
  async stop(deadlineMs: number): Promise<boolean> {
    this.state = 'stopped';
    for (const reg of this.controllers.values()) reg.unsubscribe();
    const results = await Promise.all([...this.controllers.values()].map((r) => r.controller.stop(deadlineMs)));
    return results.every(Boolean);
  }
}
