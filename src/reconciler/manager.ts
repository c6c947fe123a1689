// ControllerManager: the set of controllers, one per kind, started and stopped together and addressed by kind.

import type { Controller } from './controller.js';

/**
 * Routes triggers (store writes, machine exits, harness connects, the directory watcher) to the
 * controller of a kind. Triggers only enqueue keys; they never reconcile themselves.
 */
export class ControllerManager {
  private readonly controllers = new Map<string, Controller<string>>();
  private state: 'new' | 'running' | 'stopped' = 'new';

  /** Adds the controller for `kind`. Registering a kind twice is a bug and throws. */
  register(kind: string, controller: Controller<string>): void {
    if (this.controllers.has(kind)) throw new Error(`a controller for kind ${kind} is already registered`);
    if (this.state === 'stopped') throw new Error(`cannot register ${kind}: the controller manager has stopped`);
    this.controllers.set(kind, controller);
    // Late registration joins a running manager rather than silently never starting.
    if (this.state === 'running') controller.start();
  }

  /**
   * Enqueues `key` on the controller for `kind`. A kind without a controller (e.g. Secret, which
   * nothing reconciles) is ignored so that store-write triggers need not know which kinds have
   * controllers; the return value says whether a controller took the key.
   */
  enqueue(kind: string, key: string): boolean {
    const controller = this.controllers.get(kind);
    if (controller === undefined) return false;
    controller.enqueue(key);
    return true;
  }

  /** Starts every registered controller (each runs its startup resync). */
  start(): void {
    if (this.state !== 'new') throw new Error(`controller manager already ${this.state}`);
    this.state = 'running';
    for (const controller of this.controllers.values()) controller.start();
  }

  /**
   * Stops every controller in parallel under one shared deadline. Resolves true if all in-flight
   * reconciles finished in time, false if any was still running at the deadline.
   */
  async stop(deadlineMs: number): Promise<boolean> {
    this.state = 'stopped';
    const results = await Promise.all([...this.controllers.values()].map((c) => c.stop(deadlineMs)));
    return results.every(Boolean);
  }
}
