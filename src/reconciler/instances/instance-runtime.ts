// One instance's life: boot on demand, run its server, pause when idle, stop when idle longer, wake on the
// next connection. The boot belongs to the instance, not to the request that triggered it: a caller that
// gives up does not cancel it. A server that keeps dying right after boot is backed off.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ResolvedImage } from '../../images/image-store.js';
import type { ExecExit } from '../../protocol/messages.js';
import type { ExecHandle } from '../../vmm/channel/exec.js';
import type { ControlClient } from '../../vmm/channel/control-client.js';
import type { Machine } from '../../vmm/backend.js';
import type { MachineHost } from '../../vmm/machine-host.js';
import type { InstanceState } from '../../resources/instance.js';
import { bootMachine } from '../tasks/machine-pool.js';
import type { InstancePlan } from './instance-plan.js';

/** Where an instance's output goes (InstanceLogs' writer). */
export interface InstanceLogSink {
  write(stream: 'stdout' | 'stderr', source: 'boot' | 'server' | 'exec', chunk: Buffer, execId?: string): void;
  system(message: string): void;
}

/** The part of the status the runtime owns; the controller writes it to the store. */
export interface RuntimeStatus {
  state: InstanceState;
  connections: number;
  lastActiveAt: string;
  startedAt?: string;
  machineId?: string;
  release?: string;
  reason: string;
  message: string;
}

/** A wake that cannot happen now (backoff after crashes, boot failure); `retryAfterSeconds` says when to retry. */
export class WakeRefusedError extends Error {
  constructor(
    readonly retryAfterSeconds: number,
    message: string,
  ) {
    super(message);
    this.name = 'WakeRefusedError';
  }
}

const STOP_GRACE_MS = 2_000;
/** A server that exits sooner than this after its boot counts as crashing: the next boot waits. */
const QUICK_EXIT_MS = 10_000;
const MAX_BACKOFF_MS = 60_000;
/** A boot log longer than this (a chatty kernel) keeps only its end. */
const MAX_BOOT_LOG_BYTES = 64 * 1024;
/** How often the CPU heartbeat is sampled. */
const CPU_SAMPLE_MS = 500;
/** Share of one CPU above which an instance without connections still counts as active. */
const CPU_NOISE_FLOOR = 0.05;

const SYNC_TIMEOUT_MS = 5_000;

/** What the server in a machine is: a memory snapshot is resumed only while this stays the same. */
function snapshotKey(plan: InstancePlan): string {
  const what = { release: plan.release ?? null, image: plan.image?.digest ?? null, command: plan.command, env: plan.env, cwd: plan.cwd ?? null };
  return crypto.createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 32);
}

/** Runs `sync` in the guest, best effort and bounded: a stuck guest must not hold up its own stop. */
async function syncGuest(client: ControlClient): Promise<void> {
  try {
    const h = client.exec({ argv: ['sync'], env: {}, stdin: false });
    h.stdout.resume();
    h.stderr.resume();
    await Promise.race([h.exit, new Promise((r) => setTimeout(r, SYNC_TIMEOUT_MS))]);
  } catch {
    /* the channel is gone: nothing to flush through it */
  }
}

export interface RuntimeDeps {
  host: () => Promise<MachineHost>;
  plan: () => Promise<InstancePlan>;
  log: InstanceLogSink;
  /** Keeps the image's layers from garbage collection while a machine runs on them. */
  retainImage: (image: ResolvedImage) => () => void;
  /** Called whenever something the status shows changed. */
  changed: () => void;
  hostname: string;
  /** Where the instance's writable rootfs layer lives between machines. */
  stateDir: string;
  now?: () => number;
}

export class InstanceRuntime {
  private stateValue: InstanceState = 'stopped';
  private reason = 'Created';
  private message = 'not started yet';
  private machine: Machine | undefined;
  private client: ControlClient | undefined;
  private main: ExecHandle | undefined;
  private releaseImage: (() => void) | undefined;
  private booting: Promise<ControlClient> | undefined;
  private transition: Promise<void> = Promise.resolve();
  private stopping = false;
  private deleted = false;
  private failures = 0;
  private backoffUntil = 0;
  private bootedAt = 0;
  private plan: InstancePlan | undefined;
  private conns = 0;
  private busy = 0;
  private lastActive: number;
  private pausedAt = 0;
  private cpuSample: { at: number; micros: number } | undefined;
  private readonly now: () => number;

  constructor(private readonly deps: RuntimeDeps) {
    this.now = deps.now ?? Date.now;
    this.lastActive = this.now();
  }

  get state(): InstanceState {
    return this.stateValue;
  }

  /** The server's environment (image env, secrets, env), which execs start from; empty before the first boot. */
  get env(): Record<string, string> {
    return { ...(this.plan?.env ?? {}) };
  }

  /** What the running machine was booted from (undefined before the first boot). */
  get bootedPlan(): InstancePlan | undefined {
    return this.machine ? this.plan : undefined;
  }

  /** Replaces a running or paused machine with a fresh boot of the current definition (the app changed). */
  async restart(why: string): Promise<void> {
    if (!this.machine || this.booting) return;
    this.deps.log.system(`restarting: ${why}`);
    await this.stopMachine('Restarting', why);
    await this.wake().catch(() => undefined);
  }

  get log(): InstanceLogSink {
    return this.deps.log;
  }

  get status(): RuntimeStatus {
    return {
      state: this.stateValue,
      connections: this.conns,
      lastActiveAt: new Date(this.lastActive).toISOString(),
      ...(this.bootedAt && this.machine ? { startedAt: new Date(this.bootedAt).toISOString(), machineId: this.machine.id } : {}),
      ...(this.plan?.release ? { release: this.plan.release } : {}),
      reason: this.reason,
      message: this.message,
    };
  }

  /** The running machine's channel, waking it first: resume when paused, boot when stopped, wait when starting. */
  async wake(): Promise<ControlClient> {
    if (this.deleted) throw new WakeRefusedError(0, 'the instance is being deleted');
    await this.transition;
    if (this.stateValue === 'running' && this.client) return this.client;
    if (this.stateValue === 'paused' && this.machine && this.client) {
      const client = this.client;
      await this.serialize(async () => {
        if (this.stateValue !== 'paused') return; // another waker resumed it first
        await this.machine?.resume();
        this.set('running', 'Resumed', 'resumed on demand');
        this.deps.log.system('resumed');
      });
      return client;
    }
    const wait = this.backoffUntil - this.now();
    if (!this.booting && wait > 0) {
      throw new WakeRefusedError(Math.ceil(wait / 1000), `the server keeps exiting right after it starts; next start in ${Math.ceil(wait / 1000)} s (see: aegis logs)`);
    }
    this.booting ??= this.boot().finally(() => (this.booting = undefined));
    return this.booting;
  }

  /** The channel when running or paused (resumed), without booting: exec on a stopped instance is refused. */
  async wakeIfAlive(): Promise<ControlClient | undefined> {
    if (this.stateValue === 'stopped' || this.stateValue === 'failed') return undefined;
    return this.wake();
  }

  connectionOpened(): void {
    this.conns++;
    this.touch();
  }

  connectionClosed(): void {
    this.conns = Math.max(0, this.conns - 1);
    this.touch();
  }

  /** Work that keeps the instance awake while it lasts (an exec, a following log reader). */
  hold(): () => void {
    this.busy++;
    this.touch();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.busy--;
      this.touch();
    };
  }

  touch(): void {
    this.lastActive = this.now();
  }

  /** Idle rule, run on a timer: pause after pauseAfter without connections or work, stop after stopAfter paused. */
  async tick(): Promise<void> {
    const plan = this.plan;
    if (!plan || this.booting || this.deleted) return;
    if (this.stateValue === 'running' && this.now() - (this.cpuSample?.at ?? 0) >= CPU_SAMPLE_MS && (await this.cpuBusy())) this.touch();
    const now = this.now();
    if (this.stateValue === 'running' && this.conns === 0 && this.busy === 0 && now - this.lastActive >= plan.idle.pauseAfterMs) {
      await this.serialize(async () => {
        if (this.stateValue !== 'running' || !this.machine) return;
        await this.machine.pause();
        this.pausedAt = this.now();
        this.set('paused', 'Idle', `paused after ${Math.round(plan.idle.pauseAfterMs / 1000)} s without traffic`);
        this.deps.log.system('paused (idle)');
      });
    } else if (this.stateValue === 'paused' && this.conns === 0 && this.busy === 0 && now - this.pausedAt >= plan.idle.stopAfterMs) {
      await this.stopMachine('Idle', `stopped after ${Math.round(plan.idle.stopAfterMs / 1000)} s paused`, { suspend: true });
    }
  }

  /**
   * The heartbeat: whether the machine used more than CPU_NOISE_FLOOR of a CPU since the last look, as a
   * server working without any connection (a job, a download it started) would. Idle servers stay below.
   */
  private async cpuBusy(): Promise<boolean> {
    const stats = await this.machine?.stats().catch(() => undefined);
    const now = this.now();
    const prev = this.cpuSample;
    this.cpuSample = stats?.cpuMicros !== undefined ? { at: now, micros: stats.cpuMicros } : undefined;
    if (!prev || !this.cpuSample || now <= prev.at) return false;
    return (this.cpuSample.micros - prev.micros) / ((now - prev.at) * 1000) > CPU_NOISE_FLOOR;
  }

  /** Stops the machine for good (the instance is deleted). */
  async delete(): Promise<void> {
    this.deleted = true;
    await this.booting?.catch(() => undefined);
    await this.stopMachine('Deleted', 'the instance was deleted');
  }

  private async boot(): Promise<ControlClient> {
    this.set('starting', 'Starting', 'booting a machine');
    try {
      const plan = await this.deps.plan();
      this.plan = plan;
      const host = await this.deps.host();
      if (plan.image) this.releaseImage = this.deps.retainImage(plan.image);
      // A backend that cannot mount a host directory boots without /workspace rather than not at all.
      const workspaceDir = plan.workspaceDir && host.backend.capabilities.workspaceMounts ? plan.workspaceDir : undefined;
      if (plan.workspaceDir && !workspaceDir) this.deps.log.system(`no /workspace: the ${host.backend.name} backend cannot mount host directories yet`);
      // The workspace outlives machines (and the app, unless purged): created on first boot.
      if (workspaceDir) fs.mkdirSync(workspaceDir, { recursive: true });
      const booted = await bootMachine(host, plan.resources, {
        ...(plan.image ? { layers: plan.image.layerDirs } : {}),
        hostname: this.deps.hostname,
        ...(workspaceDir ? { workspaceDir } : {}),
        stateDir: this.stateFor(plan),
        snapshotKey: snapshotKey(plan),
      });
      this.machine = booted.machine;
      this.client = booted.client;
      this.bootedAt = this.now();
      if (booted.machine.note) this.deps.log.system(booted.machine.note);
      let main: ExecHandle;
      if (booted.machine.restored) {
        // The server never stopped: it was saved with the machine's memory and runs on from there.
        this.deps.log.system(`machine ${booted.machine.id} resumed from its memory snapshot`);
        main = booted.client.attachMain();
      } else {
        this.copyBootLog(booted.machine);
        this.deps.log.system(`machine ${booted.machine.id} booted`);
        main = booted.client.exec({ argv: plan.command, env: plan.env, ...(plan.cwd ? { cwd: plan.cwd } : {}), stdin: false, main: true });
      }
      this.main = main;
      this.pump(main.stdout, 'stdout');
      this.pump(main.stderr, 'stderr');
      void main.exit.then((exit) => this.mainExited(main, exit));
      void booted.machine.exited.then(() => this.machineExited(booted.machine));
      await main.pid;
      if (this.deleted) throw new WakeRefusedError(0, 'the instance is being deleted');
      this.touch();
      this.set('running', 'Running', `serving ${plan.command.join(' ')}`);
      return booted.client;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.deps.log.system(`start failed: ${message}`);
      await this.teardown();
      this.noteCrash();
      this.set('failed', 'StartFailed', message);
      throw new WakeRefusedError(Math.max(1, Math.ceil((this.backoffUntil - this.now()) / 1000)), message);
    }
  }

  /**
   * The writable layer's directory for this boot. Changes to the rootfs survive stop and start, but not a
   * new image: a layer written over one release's files is dropped when the instance boots another.
   */
  private stateFor(plan: InstancePlan): string {
    const dir = this.deps.stateDir;
    const marker = path.join(dir, 'image');
    const image = plan.image?.digest ?? 'base';
    let previous: string | undefined;
    try {
      previous = fs.readFileSync(marker, 'utf8');
    } catch {
      /* first boot */
    }
    if (previous !== undefined && previous !== image) {
      fs.rmSync(dir, { recursive: true, force: true });
      this.deps.log.system('the image changed: the rootfs changes of the previous image were dropped');
    }
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(marker, image);
    return dir;
  }

  /** The console output of the boot (kernel and harness start-up lines) into the log, so it has no gap before the server. */
  private copyBootLog(machine: Machine): void {
    if (!machine.consoleFile) return;
    try {
      const text = fs.readFileSync(machine.consoleFile);
      if (text.length > 0) this.deps.log.write('stdout', 'boot', text.subarray(-MAX_BOOT_LOG_BYTES));
    } catch {
      /* no console file: nothing to copy */
    }
  }

  private pump(stream: NodeJS.ReadableStream, name: 'stdout' | 'stderr'): void {
    stream.on('data', (chunk: Buffer) => {
      this.deps.log.write(name, 'server', chunk);
    });
    stream.on('error', () => undefined);
  }

  private async mainExited(main: ExecHandle, exit: ExecExit): Promise<void> {
    if (main !== this.main || this.stopping || this.deleted) return;
    const how = exit.error ? `was lost (${exit.error})` : exit.code !== null ? `exited with code ${exit.code}` : `was killed by ${exit.signal}`;
    this.deps.log.system(`server ${how}`);
    if (this.now() - this.bootedAt < QUICK_EXIT_MS) this.noteCrash();
    else this.failures = 0;
    await this.stopMachine('Exited', `the server ${how}`);
  }

  private async machineExited(machine: Machine): Promise<void> {
    if (machine !== this.machine || this.stopping || this.deleted) return;
    this.deps.log.system('machine exited unexpectedly');
    this.noteCrash();
    await this.stopMachine('MachineLost', 'the machine exited unexpectedly');
  }

  private noteCrash(): void {
    this.failures++;
    this.backoffUntil = this.now() + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.failures - 1));
  }

  /** Ends the machine; with `suspend` on a backend that can, its memory is saved so the next wake resumes it. */
  private async stopMachine(reason: string, message: string, opts: { suspend?: boolean } = {}): Promise<void> {
    await this.serialize(async () => {
      if (!this.machine) {
        if (this.stateValue !== 'failed') this.set('stopped', reason, message);
        return;
      }
      this.stopping = true;
      try {
        if (this.stateValue === 'paused') await this.machine.resume().catch(() => undefined);
        if (opts.suspend && (await this.suspend())) message += '; its memory is saved, the next request resumes it';
        await this.teardown();
        this.deps.log.system(reason === 'Deleted' ? 'stopped (deleted)' : `stopped: ${message}`);
        this.set('stopped', reason, message);
      } finally {
        this.stopping = false;
      }
    });
  }

  /** Saves the machine's memory to its state dir and ends it, when the backend can; false when it did not. */
  private async suspend(): Promise<boolean> {
    const machine = this.machine;
    const { backend } = await this.deps.host();
    if (!machine?.suspend || !backend.capabilities.memorySnapshots) return false;
    // Flushed first: should the snapshot ever be unusable, the disk alone is consistent.
    if (this.client) await syncGuest(this.client);
    try {
      await machine.suspend();
      return true;
    } catch (err) {
      this.deps.log.system(`memory snapshot failed (${err instanceof Error ? err.message : String(err)}): stopping instead`);
      return false;
    }
  }

  private async teardown(): Promise<void> {
    const machine = this.machine;
    const client = this.client;
    // The writable layer outlives the machine: flush the guest's page cache before the machine goes (a VM
    // killed with unwritten pages would lose the instance's latest changes).
    if (client && machine?.state() === 'running') await syncGuest(client);
    this.machine = undefined;
    this.client = undefined;
    this.main = undefined;
    this.bootedAt = 0;
    void client?.close();
    if (machine) {
      await machine.stop(STOP_GRACE_MS).catch(() => undefined);
      const { backend } = await this.deps.host();
      await backend.destroy(machine.id).catch(() => undefined);
    }
    this.releaseImage?.();
    this.releaseImage = undefined;
  }

  /** State changes run one at a time, so a pause never races a resume or a stop. */
  private serialize(work: () => Promise<void>): Promise<void> {
    const next = this.transition.then(work, work);
    this.transition = next.catch(() => undefined);
    return next;
  }

  private set(state: InstanceState, reason: string, message: string): void {
    this.stateValue = state;
    this.reason = reason;
    this.message = message;
    this.deps.changed();
  }
}
