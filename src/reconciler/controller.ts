// Controller: runs worker loops over one kind's WorkQueue and turns each reconcile outcome into a requeue decision.

import { realClock, type Clock, type TimerHandle } from './clock.js';
import { TerminalError } from '../errors/terminal-error.js';
import { ReconcileCounts } from './reconcile-counts.js';
import { WorkQueue, type BackoffOptions } from './work-queue.js';

export interface ReconcileContext {
  /** Fires when the controller stops; long steps (pulls, boots) should give up on it. */
  signal: AbortSignal;
  /** Consecutive failed reconciles of this key before this one (0 after a success). */
  failures: number;
}

export interface ReconcileResult {
  /** Reconcile this key again after this many ms, e.g. to poll a boot. Never sleep inside a step. */
  requeueAfterMs?: number;
}

export type Reconcile<K> = (key: K, ctx: ReconcileContext) => Promise<ReconcileResult | void>;

export interface ControllerOptions<K> {
  name: string;
  reconcile: Reconcile<K>;
  /** Concurrent worker loops; distinct keys run in parallel, one key never does. Default 1. */
  workers?: number;
  /** Period of the full resync from `listKeys`; omitted or 0 means startup resync only. */
  resyncMs?: number;
  /** Every key this controller owns, for the startup and periodic resyncs that repair drift. */
  listKeys?: () => Promise<K[]> | K[];
  /** Told about every failed reconcile; `terminal` means it will not be retried. Default: stderr. */
  onError?: (key: K, err: unknown, terminal: boolean) => void;
  /** Told when `listKeys` fails; the next resync tries again. Default: stderr. */
  onResyncError?: (err: unknown) => void;
  backoff?: BackoffOptions;
  clock?: Clock;
  /** Random source for backoff jitter. */
  random?: () => number;
}

type State = 'new' | 'running' | 'stopped';

export class Controller<K = string> {
  readonly name: string;
  /** Reconciles run per key (GET /v1/status/reconciles). */
  readonly counts = new ReconcileCounts();
  private readonly reconcile: Reconcile<K>;
  private readonly workers: number;
  private readonly resyncMs: number;
  private readonly listKeys?: () => Promise<K[]> | K[];
  private readonly onError: (key: K, err: unknown, terminal: boolean) => void;
  private readonly onResyncError: (err: unknown) => void;
  private readonly clock: Clock;
  private readonly queue: WorkQueue<K>;
  private readonly abort = new AbortController();
  private state: State = 'new';
  private resyncTimer: TimerHandle | undefined;
  private stopping: Promise<boolean> | undefined;

  constructor(options: ControllerOptions<K>) {
    const workers = options.workers ?? 1;
    if (!Number.isInteger(workers) || workers < 1) {
      throw new RangeError(`controller ${options.name}: workers must be a positive integer, got ${workers}`);
    }
    this.name = options.name;
    this.reconcile = options.reconcile;
    this.workers = workers;
    this.resyncMs = options.resyncMs ?? 0;
    this.listKeys = options.listKeys;
    this.clock = options.clock ?? realClock;
    this.onError =
      options.onError ??
      ((key, err, terminal) => {
        const kindOf = terminal ? 'terminal error' : 'error, will retry';
        process.stderr.write(`${this.name}: reconcile ${String(key)}: ${kindOf}: ${describe(err)}\n`);
      });
    this.onResyncError =
      options.onResyncError ??
      ((err) => process.stderr.write(`${this.name}: resync failed: ${describe(err)}\n`));
    this.queue = new WorkQueue<K>({ ...options.backoff, clock: this.clock, random: options.random });
  }

  /** Asks for `key` to be reconciled. Safe before `start` (held until then); ignored after `stop`. */
  enqueue(key: K): void {
    this.queue.add(key);
  }

  /** Asks for `key` to be reconciled after `ms` (time-based work such as idle timeouts). */
  enqueueAfter(key: K, ms: number): void {
    this.queue.addAfter(key, ms);
  }

  /** Starts the workers and the resyncs. A controller starts once; stopping is final. */
  start(): void {
    if (this.state !== 'new') throw new Error(`controller ${this.name} already ${this.state}`);
    this.state = 'running';
    for (let i = 0; i < this.workers; i++) void this.runWorker();
    // Startup full resync: how existing objects (and running machines) are picked up after a restart.
    void this.resync().then(() => this.scheduleResync());
  }

  /**
   * Stops taking work, fires the abort signal, and waits for in-flight reconciles up to `deadlineMs`.
   * Resolves true if all finished, false if the deadline passed first. Pending keys are dropped: the
   * next start's resync recovers them.
   */
  stop(deadlineMs: number): Promise<boolean> {
    if (this.stopping) return this.stopping;
    this.state = 'stopped';
    if (this.resyncTimer !== undefined) this.clock.clearTimeout(this.resyncTimer);
    this.resyncTimer = undefined;
    this.abort.abort(new Error(`controller ${this.name} stopping`));
    this.stopping = this.queue.shutDownWithDrain(deadlineMs);
    return this.stopping;
  }

  private async runWorker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        // A key handed out just as stop() ran is not started: the abort already fired.
        if (!this.abort.signal.aborted) await this.processOne(key);
      } catch (err) {
        // processOne handles every reconcile outcome itself; this is the last guard that keeps the loop alive.
        safely(() => this.onError(key, err, false));
      } finally {
        this.queue.done(key);
      }
    }
  }

  private async processOne(key: K): Promise<void> {
    let result: ReconcileResult | void;
    this.counts.record(String(key));
    try {
      result = await this.reconcile(key, { signal: this.abort.signal, failures: this.queue.failures(key) });
    } catch (err) {
      if (err instanceof TerminalError) {
        // Retrying cannot help; a spec edit will enqueue the key again.
        this.queue.forget(key);
        safely(() => this.onError(key, err, true));
      } else {
        this.queue.addRateLimited(key);
        safely(() => this.onError(key, err, false));
      }
      return;
    }
    this.queue.forget(key);
    const after = result?.requeueAfterMs;
    if (typeof after === 'number' && Number.isFinite(after) && after >= 0) this.queue.addAfter(key, after);
  }

  private async resync(): Promise<void> {
    if (!this.listKeys || this.state !== 'running') return;
    try {
      const keys = await this.listKeys();
      for (const key of keys) this.queue.add(key);
    } catch (err) {
      safely(() => this.onResyncError(err));
    }
  }

  // Re-armed only after a resync finishes, so a slow listKeys never overlaps with the next one.
  private scheduleResync(): void {
    if (!(this.resyncMs > 0) || this.state !== 'running') return;
    this.resyncTimer = this.clock.setTimeout(() => {
      this.resyncTimer = undefined;
      void this.resync().then(() => this.scheduleResync());
    }, this.resyncMs);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// A reporting hook that throws must not kill a worker loop.
function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    /* ignored on purpose: see above */
  }
}
