// The SDK's entry: one connection to the local daemon (by its unix socket, found as the CLI finds it), with
// the calls of every kind on it. `new Aegis()` does no I/O; each call is one or a few HTTP requests.
import { Readable } from 'node:stream';
import { aegisPaths } from '../config/paths.js';
import type { InstanceLogEntry } from '../logs/instance-log-entry.js';
import type { NetworkPolicy } from '../resources/network-policy.js';
import type { PullPolicy } from '../images/pull-policy.js';
import type { MachineResources } from '../resources/machine-resources.js';
import type { DaemonStatus } from './daemon-status.js';
import { EXEC_WITHOUT_EXIT, execPath, execStdinHeaders, type ExecRequest } from './exec-request.js';
import { Execution, type OutputCallbacks, type OutputRecord, type RawExit } from './execution.js';
import { Files } from './files.js';
import { readLogs, type LogsOptions } from './logs.js';
import { Apps, Instances, Secrets, Tasks, type ApplyResult, type Task } from './resources.js';
import { Transport } from './transport.js';

export interface AegisOptions {
  /** The daemon's socket; default `$AEGIS_HOME/aegisd.sock` (AEGIS_HOME from `home`, else the environment, else ~/.aegis). */
  socket?: string;
  home?: string;
  /** Recorded as the source of what this client creates (`metadata.source`); default "sdk". */
  source?: string;
}

export interface RunOptions extends OutputCallbacks {
  /** Image to run in (pulled when missing, see `pull`); default: the base rootfs (busybox). */
  image?: string;
  pull?: PullPolicy;
  env?: Record<string, string>;
  /** `uid[:gid]` or `name[:group]`; default: the image's USER. */
  user?: string;
  /** Run with this app's secrets (and its network policy). */
  app?: string;
  resources?: Partial<MachineResources>;
  network?: NetworkPolicy;
  /** Seconds the finished task and its log are kept (default 3600). */
  ttlSeconds?: number;
  /**
   * Hold the task for files: `start` waits with the command until POST /v1/tasks/ID/start (files copied in
   * first), `exit` keeps the machine after the command until POST /v1/tasks/ID/release (results copied out).
   */
  hold?: { start?: boolean; exit?: boolean };
  signal?: AbortSignal;
  /** Cancels the task after this long; the execution then rejects with a TimeoutError. */
  timeoutMs?: number;
}

export interface ExecOptions extends OutputCallbacks {
  env?: Record<string, string>;
  workdir?: string;
  user?: string;
  /** Input for the command (its stdin is closed otherwise). */
  stdin?: Readable | Buffer | string;
  /** Output with the values of the instance's secrets (its app's and the workspace's) replaced by `***`. */
  mask?: boolean;
  signal?: AbortSignal;
  /** Kills the command after this long; the execution then rejects with a TimeoutError. */
  timeoutMs?: number;
}

export interface ApplyOptions {
  /** Who applies: objects are owned (for `prune`) by this source. Default "sdk". */
  source?: string;
  /** Delete what this source applied before but `objects` no longer lists. */
  prune?: boolean;
  selector?: Record<string, string>;
  dryRun?: boolean;
  signal?: AbortSignal;
}

export class Aegis {
  readonly transport: Transport;
  readonly apps: Apps;
  readonly instances: Instances;
  readonly tasks: Tasks;
  readonly secrets: Secrets;
  readonly files: Files;

  constructor(opts: AegisOptions = {}) {
    const socket = opts.socket ?? aegisPaths(opts.home ? { AEGIS_HOME: opts.home } : process.env).socket;
    this.transport = new Transport(socket, opts.source ?? 'sdk');
    this.apps = new Apps(this.transport);
    this.instances = new Instances(this.transport);
    this.tasks = new Tasks(this.transport);
    this.secrets = new Secrets(this.transport);
    this.files = new Files(this.transport);
  }

  /** The daemon's version, backend and counts (throws AegisNotRunningError when none runs). */
  status(opts: { signal?: AbortSignal } = {}): Promise<DaemonStatus> {
    return this.transport.get<DaemonStatus>('/v1/status', opts);
  }

  /** Runs `command` to completion in a fresh machine (a Task). Output of secret values is masked (`***`). */
  run(command: string[], opts: RunOptions = {}): Execution {
    const t = this.transport;
    const { onStdout, onStderr, signal: userSignal, timeoutMs, ...spec } = opts;
    const signal = withTimeout(userSignal, timeoutMs);
    // The create request is not aborted with the signal: the daemon may have made the task already, and
    // only its id lets us cancel it. The caller still gets the abort at once; the task is cancelled as soon
    // as its id arrives.
    let created: Promise<string> | undefined;
    let cancelled: Promise<void> | undefined;
    // Without a signal of its own: the caller's may be the one that aborted. Once only (abort and a stopped reader both ask).
    const cancel = (): Promise<void> => (created ? (cancelled ??= created.then(async (uid) => void (await t.delete(`/v1/tasks/${uid}`)))) : Promise.resolve());
    const taskId = (): Promise<string> => {
      if (!created) {
        signal?.throwIfAborted();
        created = t.post<{ id: string }>('/v1/tasks', { command, ...spec }).then((r) => r.id);
        // Aborted while it was being created: nobody will read it, so it must not run on.
        created.then(() => (signal?.aborted ? cancel() : undefined)).catch(() => undefined);
      }
      return untilAborted(created, signal);
    };
    return new Execution(
      {
        signal,
        start: async () => void (await taskId()),
        taskId,
        open: async () => t.ndjson<OutputRecord>(`/v1/tasks/${await taskId()}/logs?follow=true`, { ...(signal ? { signal } : {}) }),
        missingExit: async () => {
          const task: Task = await t.get(`/v1/tasks/${await taskId()}`);
          return { code: task.status.exitCode ?? null, signal: task.status.signal ?? null, ...(task.status.reason ? { reason: task.status.reason } : {}), ...(task.status.message ? { message: task.status.message } : {}) };
        },
        cancel,
      },
      { ...(onStdout ? { onStdout } : {}), ...(onStderr ? { onStderr } : {}) },
    );
  }

  /** Runs `command` in a serving instance (a paused one resumes); `target` as exec takes it (app name, instance name or id). */
  exec(target: string, command: string[], opts: ExecOptions = {}): Execution {
    const { onStdout, onStderr, signal: userSignal, timeoutMs, stdin, ...rest } = opts;
    // Closing the request is what stops the command in the daemon; our own controller does that.
    const stop = new AbortController();
    const signal = withTimeout(userSignal, timeoutMs);
    const request: ExecRequest = { command, ...rest };
    const path = execPath(target);
    const requestSignal = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    return new Execution(
      {
        signal,
        // The exec starts with its request: nothing to do before it.
        start: async () => undefined,
        open: async () =>
          stdin === undefined
            ? this.transport.ndjson<OutputRecord>(path, { method: 'POST', body: request, signal: requestSignal })
            : this.transport.ndjson<OutputRecord>(path, {
                method: 'POST',
                stream: stdin instanceof Readable ? stdin : Readable.from([Buffer.from(stdin)]),
                headers: execStdinHeaders(request),
                signal: requestSignal,
              }),
        missingExit: async (): Promise<RawExit> => EXEC_WITHOUT_EXIT,
        cancel: async () => stop.abort(),
      },
      { ...(onStdout ? { onStdout } : {}), ...(onStderr ? { onStderr } : {}) },
    );
  }

  /** An instance's log entries (secret values masked), oldest first; with `follow`, new ones as they come. */
  logs(target: string, opts: LogsOptions = {}): AsyncGenerator<InstanceLogEntry> {
    return readLogs(this.transport, `/v1/instances/${encodeURIComponent(target)}/logs`, opts);
  }

  /** Writes manifest objects (`{apiVersion, kind, metadata, spec}`) in one transaction, as `aegis apply` does. */
  async apply(objects: unknown[], opts: ApplyOptions = {}): Promise<ApplyResult[]> {
    const body = { source: opts.source ?? 'sdk', objects, prune: opts.prune === true, dryRun: opts.dryRun === true, ...(opts.selector ? { selector: opts.selector } : {}) };
    return (await this.transport.post<{ results: ApplyResult[] }>('/v1/apply', body, opts.signal ? { signal: opts.signal } : {})).results;
  }
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts (the promise goes on regardless). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** `signal`, also aborting (with a TimeoutError) after `timeoutMs`. */
function withTimeout(signal: AbortSignal | undefined, timeoutMs: number | undefined): AbortSignal | undefined {
  if (timeoutMs === undefined) return signal;
  const timer = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([signal, timer]) : timer;
}
