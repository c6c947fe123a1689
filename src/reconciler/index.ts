// Public surface of the reconciler core: re-exports only.

export { realClock, type Clock, type TimerHandle } from './clock.js';
export { WorkQueue, type BackoffOptions, type WorkQueueOptions } from './work-queue.js';
export { TerminalError, type TerminalErrorOptions } from './terminal-error.js';
export {
  Controller,
  type ControllerOptions,
  type Reconcile,
  type ReconcileContext,
  type ReconcileResult,
} from './controller.js';
export { ControllerManager } from './manager.js';
