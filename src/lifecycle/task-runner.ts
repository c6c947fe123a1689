// Owns one task's machine from boot to exit: start, run the command, stream output to the log, record the outcome.
import type { TaskSpec, TaskStatus } from '../resources/task.js';
import { setCondition } from '../resources/conditions.js';
import type { ImageStore, ResolvedImage } from '../images/image-store.js';
import type { Store } from '../store/store.js';
import type { StoredResource } from '../store/stored-resource.js';
import type { Machine } from '../vmm/backend.js';
import type { MachineHost } from '../vmm/machine-host.js';
import type { ControlClient } from '../vmm/channel/control-client.js';
import { resolveEnvironment } from '../model/environment.js';
import { imageEnv } from '../images/image-env.js';
import { runAsUser } from './run-as-user.js';
import { bootMachine, DEFAULT_MEMORY_MIB, DEFAULT_VCPUS } from './boot-machine.js';
import type { MachinePool } from './machine-pool.js';
import { chunkEntry, splitAtCharBoundary, type LogExit } from '../logs/log-entry.js';
import type { TaskLog } from '../logs/task-log.js';
import type { SecretMasks } from '../logs/secret-masks.js';
import type { AppSpec } from '../resources/app.js';
import { resolveNetwork } from '../resources/network-policy.js';
import type { TaskMachines } from './task-machines.js';

type TaskResource = StoredResource<TaskSpec, TaskStatus>;

const STOP_GRACE_MS = 2_000;
/** How long a killed task's VM gets to report an OOM kill on its console (libkrun's console is asynchronous). */
const OOM_REPORT_WAIT_MS = 300;

export interface TaskRunnerDeps {
  store: Store;
  /** The backend and base rootfs, prepared once by the daemon; rejects when no backend can run here. */
  host: () => Promise<MachineHost>;
  pool: MachinePool;
  images: ImageStore;
  log: TaskLog;
  /** Secret values become `***` in the log, which is all `aegis run` and `aegis logs` see. */
  masks: SecretMasks;
  /** Where the task's machine is found for file operations, and where it waits for its client. */
  machines: TaskMachines;
}

export class TaskRunner {
  private machine: Machine | undefined;
  private client: ControlClient | undefined;
  private cancelled = false;
  /** Aborted on cancel: a task waiting for its client stops waiting. */
  private readonly cancelling = new AbortController();
  /** Releases the image's layers for garbage collection once the machine is gone. */
  private releaseImage: (() => void) | undefined;
  readonly done: Promise<void>;

  constructor(
    private readonly task: TaskResource,
    private readonly deps: TaskRunnerDeps,
  ) {
    this.done = this.run().catch((err) => this.finish({ code: null, signal: null, reason: 'StartFailed', message: messageOf(err) }));
  }

  /** Stops the task's machine (Ctrl+C, delete); the task ends Failed with reason Cancelled. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    this.cancelling.abort();
    await this.machine?.stop(STOP_GRACE_MS).catch(() => undefined);
    await this.done;
  }

  private async run(): Promise<void> {
    const { spec } = this.task;
    let image: ResolvedImage | undefined;
    if (spec.image) {
      try {
        image = await this.deps.images.pull(spec.image, { policy: spec.pull ?? 'missing' });
      } catch (err) {
        return this.finish({ code: null, signal: null, reason: 'PullFailed', message: messageOf(err) });
      }
      this.releaseImage = this.deps.images.retain(image);
    }
    let env: Record<string, string>;
    try {
      env = { ...imageEnv(image), ...resolveEnvironment(this.deps.store, spec.app, spec.env ?? {}) };
    } catch (err) {
      return this.finish({ code: null, signal: null, reason: 'AppNotFound', message: messageOf(err) });
    }
    const shape = { memoryMiB: spec.resources?.memoryMiB ?? DEFAULT_MEMORY_MIB, vcpus: spec.resources?.vcpus ?? DEFAULT_VCPUS };
    // The task's own policy, else its app's (whose secrets it gets, and whose code it likely runs).
    const network = resolveNetwork(spec.network, spec.app ? this.deps.store.get<AppSpec>('App', spec.app)?.spec.network : undefined);
    // Warm machines run the base rootfs, so only image-less tasks can take one.
    const host = await this.deps.host();
    const booted = (!image && (await this.deps.pool.take(shape, network))) || (await bootMachine(host, shape, { ...(image ? { layers: image.layerDirs } : {}), network }));
    this.machine = booted.machine;
    this.client = booted.client;
    if (this.cancelled) return this.finish({ code: null, signal: null, reason: 'Cancelled', message: 'task was cancelled' });
    this.setStatus((s) => ({ ...s, phase: 'Running', startedAt: new Date().toISOString(), machineId: booted.machine.id }));
    const uid = this.task.metadata.uid;
    this.deps.machines.add(uid, booted.client, runAsUser(spec.user, image).user, () => this.deps.masks.masker(spec.app));
    if (spec.hold?.start && !(await this.deps.machines.wait(uid, 'start', undefined, this.cancelling.signal))) {
      if (this.cancelled) return this.finish({ code: null, signal: null, reason: 'Cancelled', message: 'task was cancelled' });
      return this.finish({ code: null, signal: null, reason: 'StartTimeout', message: 'nobody started the task within 10 minutes of its machine booting (POST /v1/tasks/{id}/start)' });
    }

    const exec = this.client.exec({
      argv: spec.command,
      env,
      ...(image?.config.workingDir ? { cwd: image.config.workingDir } : {}),
      ...runAsUser(spec.user, image),
      stdin: false,
      main: true,
    });
    const drained = Promise.all([this.pump(exec.stdout, 'stdout'), this.pump(exec.stderr, 'stderr')]);
    // exec.exit also settles (with an error) when the machine dies and takes the channel with it.
    const exit = await exec.exit;
    await drained;
    const killed = exit.signal === 'SIGKILL' || exit.code === 137 || !!exit.error;
    let stats = await this.machine.stats().catch(() => undefined);
    if (killed && stats?.oomKills === 0 && host.backend.capabilities.isolation === 'vm') {
      // A VM reports its OOM kills on its console, which can reach the host just after the exit did.
      await new Promise((r) => setTimeout(r, OOM_REPORT_WAIT_MS));
      stats = await this.machine.stats().catch(() => undefined);
    }
    if (this.cancelled) return this.finish({ code: null, signal: 'SIGTERM', reason: 'Cancelled', message: 'task was cancelled' });
    // Killed, or the machine lost with it (the OOM killer took the harness when nothing else was left).
    if (stats && stats.oomKills > 0 && killed) {
      const mib = Math.round(stats.memoryLimitBytes / 1024 / 1024);
      return this.finish({ code: exit.code ?? 137, signal: exit.signal, reason: 'OOMKilled', message: `killed: out of memory (limit ${mib} MiB)` });
    }
    return this.finish({ code: exit.code, signal: exit.signal, ...(exit.error ? { reason: 'MachineLost', message: exit.error } : {}) });
  }

  private async pump(stream: NodeJS.ReadableStream, name: 'stdout' | 'stderr'): Promise<void> {
    const mask = this.deps.masks.masker(this.task.spec.app);
    let carry: Buffer = Buffer.alloc(0);
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const masked = mask.push(chunk);
      const { whole, rest } = splitAtCharBoundary(carry.length ? Buffer.concat([carry, masked]) : masked);
      carry = rest;
      if (whole.length) this.deps.log.append(chunkEntry(name, whole));
    }
    carry = Buffer.concat([carry, mask.flush()]);
    if (carry.length) this.deps.log.append(chunkEntry(name, carry));
  }

  private async finish(exit: LogExit): Promise<void> {
    const ok = exit.code === 0 && !exit.reason;
    this.deps.log.append({ ts: new Date().toISOString(), stream: 'system', exit });
    this.deps.log.close();
    this.setStatus((s) => ({
      ...s,
      phase: ok ? 'Succeeded' : 'Failed',
      exitCode: exit.code,
      ...(exit.signal ? { signal: exit.signal } : {}),
      reason: exit.reason ?? (ok ? 'Completed' : 'Exited'),
      message: exit.message ?? (exit.code !== null ? `exited with code ${exit.code}` : `killed by ${exit.signal}`),
      finishedAt: new Date().toISOString(),
    }));
    await this.teardown();
  }

  private async teardown(): Promise<void> {
    const uid = this.task.metadata.uid;
    // Files are copied out now, while the machine is still there (the exit is in the log already).
    if (this.task.spec.hold?.exit && this.deps.machines.isRunning(uid) && !this.cancelled) await this.deps.machines.wait(uid, 'release', undefined, this.cancelling.signal);
    this.deps.machines.remove(uid);
    void this.client?.close();
    this.deps.pool.refill();
    if (this.machine) {
      const { backend } = await this.deps.host();
      await this.machine.stop(STOP_GRACE_MS).catch(() => undefined);
      await backend.destroy(this.machine.id).catch(() => undefined);
    }
    this.releaseImage?.();
  }

  private setStatus(change: (s: TaskStatus) => TaskStatus): void {
    const cur = this.deps.store.get<TaskSpec, TaskStatus>('Task', this.task.metadata.uid);
    if (!cur) return;
    const next = change(cur.status);
    const ready = next.phase === 'Succeeded' || next.phase === 'Running';
    next.conditions = setCondition(
      next.conditions ?? [],
      { type: 'Ready', status: ready ? 'True' : next.phase === 'Failed' ? 'False' : 'Unknown', reason: next.reason ?? next.phase ?? 'Pending', message: next.message ?? '' },
      new Date(),
    );
    next.observedGeneration = cur.metadata.generation;
    this.deps.store.updateStatus('Task', cur.metadata.uid, next);
  }
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

