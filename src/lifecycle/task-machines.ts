// The machines of the tasks this daemon runs right now, for file operations on them, and the two points
// where a task may wait for its client: before its command starts (files are copied in: `aegis run
// --copy`) and after it exits, before the machine goes (files are copied out: `aegis run --artifacts`).
import { EventEmitter } from 'node:events';
import { conflict, unavailable } from '../errors/codes.js';
import type { SecretMasker } from '../logs/secret-masker.js';
import type { ControlClient } from '../vmm/channel/control-client.js';
import type { FilesMachine, FilesTarget } from './machine-files.js';

/** Longest a task waits at either point for its client (one that went away must not pin a machine). */
export const TASK_HOLD_LIMIT_MS = 10 * 60_000;

export type TaskGate = 'start' | 'release';

interface Running {
  client: ControlClient;
  user?: string;
  /** For reads with `mask`: the values the task's output is masked for. */
  masker?: () => SecretMasker;
}

export class TaskMachines {
  private readonly running = new Map<string, Running>();
  /** Gates opened (by the client, or because the task ended) before or while the runner waits. */
  private readonly opened = new Map<string, Set<TaskGate>>();
  /** Tasks whose runner is done with its machine: file operations on them are refused at once. */
  private readonly gone = new Set<string>();
  private readonly events = new EventEmitter();

  constructor() {
    this.events.setMaxListeners(0);
  }

  /** The runner booted the task's machine. */
  add(uid: string, client: ControlClient, user: string | undefined, masker?: () => SecretMasker): void {
    this.running.set(uid, { client, ...(user ? { user } : {}), ...(masker ? { masker } : {}) });
    this.events.emit(`ready:${uid}`);
  }

  /** The runner is about to tear the machine down (or never got one): operations on it are over. */
  remove(uid: string): void {
    this.running.delete(uid);
    this.opened.delete(uid);
    this.gone.add(uid);
    this.events.emit(`ready:${uid}`);
    // Kept only so that a late call is refused rather than waited on; bounded by the tasks' TTL in practice.
    if (this.gone.size > 10_000) this.gone.delete(this.gone.values().next().value as string);
  }

  /** Whether the task's machine is up (running its command, or held for files after it). */
  isRunning(uid: string): boolean {
    return this.running.has(uid);
  }

  /** Opens a gate (the client's POST /v1/tasks/{id}/start or /release); harmless when nobody waits. */
  open(uid: string, gate: TaskGate): void {
    if (this.gone.has(uid)) throw conflict(`task ${uid} has finished and its machine is gone`);
    const set = this.opened.get(uid) ?? new Set<TaskGate>();
    set.add(gate);
    this.opened.set(uid, set);
    this.events.emit(`gate:${uid}`);
  }

  /** Resolves true once the gate opens, false after `limitMs` (or when `signal` aborts: the task is cancelled). */
  wait(uid: string, gate: TaskGate, limitMs = TASK_HOLD_LIMIT_MS, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const check = () => {
        if (!this.opened.get(uid)?.has(gate)) return;
        done(true);
      };
      const timer = setTimeout(() => done(false), limitMs);
      const onAbort = () => done(false);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.events.off(`gate:${uid}`, check);
        signal?.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      this.events.on(`gate:${uid}`, check);
      signal?.addEventListener('abort', onAbort, { once: true });
      check();
    });
  }

  /** File operations on the task `uid`: they wait (within their timeout) for a machine still booting. */
  target(uid: string, label: string): FilesTarget {
    return {
      label,
      open: (timeoutMs) => this.machine(uid, label, timeoutMs),
    };
  }

  private machine(uid: string, label: string, timeoutMs: number): Promise<FilesMachine> {
    return new Promise((resolve, reject) => {
      const attempt = (): boolean => {
        const m = this.running.get(uid);
        if (m) {
          finish();
          resolve({ client: m.client, ...(m.user ? { user: m.user } : {}), release: () => undefined, ...(m.masker ? { masker: m.masker } : {}) });
          return true;
        }
        if (this.gone.has(uid)) {
          finish();
          reject(conflict(`${label} has finished and its machine is gone (keep it for files with: aegis run --artifacts)`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        finish();
        reject(unavailable(`${label}: its machine was not up within ${timeoutMs} ms`));
      }, timeoutMs);
      const onReady = () => void attempt();
      const finish = () => {
        clearTimeout(timer);
        this.events.off(`ready:${uid}`, onReady);
      };
      this.events.on(`ready:${uid}`, onReady);
      attempt();
    });
  }
}
