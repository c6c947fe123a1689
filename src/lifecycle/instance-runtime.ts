// One instance's life: boot on demand, run its server, pause and stop when the Instance controller says it is
// idle (see idle-policy.ts), wake on the next connection. The boot belongs to the instance, not to the
// request that triggered it: a caller that gives up does not cancel it. A server that keeps dying right after
// boot is backed off (crash-backoff.ts); a plan that cannot boot (TerminalError) is not tried again until
// what it is planned from changes (planInputs).
import type { ResolvedImage } from '../images/image-store.js';
import type { ExecExit } from '../protocol/messages.js';
import type { ExecHandle } from '../vmm/channel/exec.js';
import type { ControlClient } from '../vmm/channel/control-client.js';
import type { Machine, MachineStats } from '../vmm/backend.js';
import type { MachineHost } from '../vmm/machine-host.js';
import { TerminalError } from '../errors/terminal-error.js';
import type { InstanceState } from '../resources/instance.js';
import { connectMachine } from './boot-machine.js';
import { pumpPaced } from '../logs/paced-pump.js';
import type { InstancePlan } from './instance-plan.js';
import type { SecretMasker } from '../logs/secret-masker.js';
import { CrashBackoff } from './crash-backoff.js';
import type { IdleFacts } from './idle-policy.js';
import { InstanceActivity } from './instance-activity.js';
import { bootPlan, copyBootLog, setGuestClock, suspendMachine, syncGuest } from './instance-machine.js';

/** Where an instance's output goes (InstanceLogs' writer). */
export interface InstanceLogSink {
  write(stream: 'stdout' | 'stderr', source: 'boot' | 'server' | 'exec', chunk: Buffer, execId?: string): void;
  system(message: string): void;
  /** A masker for one more stream of this instance's output that leaves the daemon (a masked exec); undefined: nothing to mask with. */
  outputMasker?(): SecretMasker | undefined;
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
/** A VM paused at least this long has its clock set on resume (it stood still meanwhile). */
const CLOCK_SKEW_MS = 1_000;
/** How long an adopted machine's harness gets to answer before the instance boots fresh instead. */
const ADOPT_CONNECT_MS = 10_000;

export interface RuntimeDeps {
  host: () => Promise<MachineHost>;
  plan: () => Promise<InstancePlan>;
  /** What the plan is made from right now (instance-plan.ts planInputs): a change is an edit worth a boot. */
  planInputs: () => string;
  log: InstanceLogSink;
  /** Keeps the image's layers from garbage collection while a machine runs on them. */
  retainImage: (image: ResolvedImage) => () => void;
  /** Called whenever the instance's state changed. */
  changed: () => void;
  /** Called when its connections or the work holding it awake changed (often: callers debounce). */
  activity?: () => void;
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
  /** The daemon is shutting down: the machine is left running for the next daemon to adopt. */
  private detached = false;
  private readonly backoff = new CrashBackoff();
  /** The plan inputs the last boot failed for good on (a TerminalError); cleared once they change. */
  private failedFor: string | undefined;
  private bootedAt = 0;
  private plan: InstancePlan | undefined;
  private readonly activity: InstanceActivity;
  private pausedAt = 0;
  private readonly now: () => number;

  constructor(private readonly deps: RuntimeDeps) {
    this.now = deps.now ?? Date.now;
    this.activity = new InstanceActivity(this.now, deps.activity);
  }

  get state(): InstanceState {
    return this.stateValue;
  }

  /** The server's environment (image env, secrets, env), which execs start from; empty before the first boot. */
  get env(): Record<string, string> {
    return { ...(this.plan?.env ?? {}) };
  }

  /** Who the server runs as, which execs default to (undefined: root, or before the first boot). */
  get user(): string | undefined {
    return this.plan?.user;
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
      connections: this.activity.connections,
      lastActiveAt: new Date(this.activity.lastActiveAt).toISOString(),
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
    if (this.stateValue === 'paused' && this.machine) {
      await this.serialize(async () => {
        if (this.stateValue !== 'paused' || !this.machine) return; // another waker resumed it first
        await this.machine.resume();
        // A machine adopted while paused is connected on its first wake: a paused guest cannot answer.
        if (!this.client && !(await this.attachAdopted(this.machine, `re-attached to the server of machine ${this.machine.id}`))) return;
        // Not awaited: the request that woke it goes first; a short pause leaves a skew not worth a process.
        if (this.client && this.now() - this.pausedAt >= CLOCK_SKEW_MS) void setGuestClock(this.deps.host, this.client, this.deps.log);
        this.set('running', 'Resumed', 'resumed on demand');
        this.deps.log.system('resumed');
      });
      // Not running now: the adopted machine could not be re-attached and was stopped, so boot fresh.
      return this.wake();
    }
    if (!this.booting && this.failedFor !== undefined) {
      if (this.failedFor === this.deps.planInputs()) throw new TerminalError(this.message, { reason: this.reason });
      this.failedFor = undefined;
    }
    const wait = this.backoff.waitMs(this.now());
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
    this.activity.connectionOpened();
  }

  connectionClosed(): void {
    this.activity.connectionClosed();
  }

  /** Work that keeps the instance awake while it lasts (an exec). */
  hold(): () => void {
    return this.activity.hold();
  }

  touch(): void {
    this.activity.touch();
  }

  /** What the idle policy decides on (undefined before the first boot: nothing to be idle yet). */
  idleFacts(busyElsewhere: boolean, canPause: boolean, backend: string): IdleFacts | undefined {
    const plan = this.plan;
    if (!plan || this.booting || this.deleted) return undefined;
    return { state: this.stateValue, active: this.activity.inUse(busyElsewhere), lastActiveAt: this.activity.lastActiveAt, pausedAt: this.pausedAt, idle: plan.idle, canPause, backend };
  }

  /**
   * Pauses the running machine, idle since `facts` were taken; a no-op when anything happened since (a
   * request, a connection, a wake): the decision is taken again on fresh facts.
   */
  async pause(message: string, facts: IdleFacts): Promise<void> {
    await this.serialize(async () => {
      if (!this.stillIdle(facts) || !this.machine) return;
      await this.machine.pause();
      this.pausedAt = this.now();
      this.set('paused', 'Idle', message);
      this.deps.log.system('paused (idle)');
    });
  }

  /**
   * Pauses the running machine now, as asked (the dashboard): like an idle pause, the next connection or exec
   * resumes it. False when it is not running or the backend cannot pause.
   */
  async pauseNow(message: string): Promise<boolean> {
    let paused = false;
    await this.serialize(async () => {
      if (this.stateValue !== 'running' || !this.machine || this.booting) return;
      await this.machine.pause();
      this.pausedAt = this.now();
      this.set('paused', 'Paused', message);
      this.deps.log.system(`paused: ${message}`);
      paused = true;
    });
    return paused;
  }

  /** Stops the machine now, as asked; the next connection boots it again, as after an idle stop. */
  async stopNow(message: string): Promise<void> {
    await this.stopMachine('Stopped', message);
  }

  /** Stops the machine, idle since `facts` were taken (see pause); with `suspend` its memory is saved where the backend can. */
  async stopIdle(message: string, suspend: boolean, facts: IdleFacts): Promise<void> {
    await this.stopMachine('Idle', message, { suspend, onlyIf: () => this.stillIdle(facts) });
  }

  /** Nothing happened since `facts` were taken: same state, no activity since, nothing open. */
  private stillIdle(facts: IdleFacts): boolean {
    return this.stateValue === facts.state && this.pausedAt === facts.pausedAt && this.activity.quietSince(facts.lastActiveAt);
  }

  /** The CPU heartbeat (see CpuHeartbeat): whether the machine worked since the last sample, as a busy server does. */
  async sampleCpu(): Promise<boolean> {
    const stats = await this.machine?.stats().catch(() => undefined);
    return this.activity.sampleCpu(stats?.cpuMicros);
  }

  /** The last boot failed for good, and what it was planned from changed since: worth one more boot now. */
  inputsChangedSinceFailure(): boolean {
    return this.stateValue === 'failed' && this.failedFor !== undefined && !this.booting && !this.deleted && this.failedFor !== this.deps.planInputs();
  }

  /** The machine's counters, when one runs. */
  async stats(): Promise<MachineStats | undefined> {
    return this.machine?.stats().catch(() => undefined);
  }

  /** A boot that failed is tried again by the controller after this long (undefined: not a failed boot). */
  retryInMs(): number | undefined {
    if (this.stateValue !== 'failed' || this.reason !== 'StartFailed' || this.booting || this.deleted) return undefined;
    return this.backoff.waitMs(this.now());
  }

  /** Stops the machine for good (the instance is deleted). */
  async delete(): Promise<void> {
    this.deleted = true;
    await this.booting?.catch(() => undefined);
    await this.stopMachine('Deleted', 'the instance was deleted');
  }

  private async boot(): Promise<ControlClient> {
    this.set('starting', 'Starting', 'booting a machine');
    const inputs = this.deps.planInputs();
    try {
      const plan = await this.deps.plan();
      this.plan = plan;
      const host = await this.deps.host();
      if (plan.image) this.releaseImage = this.deps.retainImage(plan.image);
      const booted = await bootPlan(host, plan, { hostname: this.deps.hostname, stateDir: this.deps.stateDir, log: this.deps.log });
      this.own(booted.machine);
      this.bootedAt = this.now();
      if (booted.machine.note) this.deps.log.system(booted.machine.note);
      if (booted.machine.restored) {
        // The server never stopped: it was saved with the machine's memory and runs on from there.
        this.deps.log.system(`machine ${booted.machine.id} resumed from its memory snapshot`);
        await setGuestClock(this.deps.host, booted.client, this.deps.log);
        await this.follow(booted.client, booted.client.attachMain());
      } else {
        copyBootLog(booted.machine, this.deps.log);
        this.deps.log.system(`machine ${booted.machine.id} booted`);
        await this.follow(booted.client, booted.client.exec({ argv: plan.command, env: plan.env, ...(plan.cwd ? { cwd: plan.cwd } : {}), ...(plan.user ? { user: plan.user } : {}), stdin: false, main: true }));
      }
      if (this.deleted) throw new WakeRefusedError(0, 'the instance is being deleted');
      this.touch();
      this.set('running', 'Running', `serving ${plan.command.join(' ')}`);
      return booted.client;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.deps.log.system(`start failed: ${message}`);
      await this.teardown();
      if (err instanceof TerminalError) {
        this.failedFor = inputs;
        this.set('failed', err.reason, message);
        throw err;
      }
      this.backoff.crashed(this.now());
      this.set('failed', 'StartFailed', message);
      throw new WakeRefusedError(Math.max(1, Math.ceil(this.backoff.waitMs(this.now()) / 1000)), message);
    }
  }

  /**
   * Takes over a machine an earlier daemon left serving this instance: the server runs on, its output goes
   * to the log again from now on, and a paused machine stays paused until the next wake. When it cannot
   * (the server ended, the instance now runs another release, the harness does not answer), the machine
   * is stopped and the instance boots fresh. `previous` is what the earlier daemon recorded in the status.
   */
  async adopt(machine: Machine, previous: { release?: string; startedAt?: string }): Promise<void> {
    await this.serialize(async () => {
      this.own(machine);
      // The server started long ago: an exit soon after the adoption is no crash at boot.
      this.bootedAt = Date.parse(previous.startedAt ?? '') || this.now();
      this.set('starting', 'Adopting', `re-attaching to machine ${machine.id}`);
      let plan: InstancePlan;
      try {
        plan = await this.deps.plan();
        if (plan.release !== previous.release) throw new Error(`it runs release ${previous.release ?? 'none'}, the instance now runs ${plan.release ?? 'none'}`);
        this.plan = plan;
        if (plan.image) this.releaseImage = this.deps.retainImage(plan.image);
      } catch (err) {
        // Connected first, so that teardown flushes the guest's writes to the kept rootfs layer.
        if (machine.state() === 'running') this.client = await connectMachine(machine, ADOPT_CONNECT_MS).catch(() => undefined);
        await this.dropAdopted(machine, err);
        return;
      }
      if (machine.state() === 'paused') {
        this.pausedAt = this.now();
        this.deps.log.system(`re-adopted paused machine ${machine.id} after a daemon restart; output while aegisd was down is not in this log`);
        this.set('paused', 'Adopted', 'paused; re-adopted after a daemon restart');
        return;
      }
      if (!(await this.attachAdopted(machine, `re-adopted machine ${machine.id} after a daemon restart; output while aegisd was down is not in this log`))) return;
      this.touch();
      this.set('running', 'Adopted', `serving ${plan.command.join(' ')}`);
    });
    if (this.stateValue === 'stopped') await this.wake();
  }

  /** Connects to an adopted, running machine and attaches to its server; false (machine stopped) when that fails. */
  private async attachAdopted(machine: Machine, done: string): Promise<boolean> {
    let client: ControlClient | undefined;
    try {
      client = await connectMachine(machine, ADOPT_CONNECT_MS);
      if (!client.harness.main?.running) throw new Error(client.harness.main ? 'its server has exited' : 'it has no server');
      await this.follow(client, client.attachMain());
      this.deps.log.system(done);
      return true;
    } catch (err) {
      this.client ??= client;
      await this.dropAdopted(machine, err);
      return false;
    }
  }


  /** Stops a machine that could not be adopted (runs inside a state transition: no stopMachine here). */
  private async dropAdopted(machine: Machine, err: unknown): Promise<void> {
    const why = err instanceof Error ? err.message : String(err);
    this.deps.log.system(`cannot re-adopt machine ${machine.id} (${why}): stopping it and booting fresh`);
    this.stopping = true;
    try {
      await this.teardown();
    } finally {
      this.stopping = false;
    }
    this.set('stopped', 'AdoptFailed', `machine ${machine.id} could not be re-adopted: ${why}`);
  }

  /** Makes `machine` the instance's machine; its exit from now on is handled as a crash. */
  private own(machine: Machine): void {
    this.machine = machine;
    void machine.exited.then(() => this.machineExited(machine));
  }

  /** Follows the machine's server through `client`: its output into the log, its exit handled; resolves with its pid. */
  private follow(client: ControlClient, main: ExecHandle): Promise<number> {
    this.client = client;
    this.main = main;
    this.pump(main.stdout, 'stdout');
    this.pump(main.stderr, 'stderr');
    void main.exit.then((exit) => this.mainExited(main, exit));
    return main.pid;
  }

  /**
   * Lets go of the machine without stopping it (the daemon shuts down): the control channel closes and
   * the server runs on (a paused machine stays paused) until the next daemon adopts it.
   */
  async detach(): Promise<void> {
    this.detached = true;
    await this.booting?.catch(() => undefined);
    await this.transition;
    const client = this.client;
    this.client = undefined;
    this.main = undefined;
    await client?.close();
    this.releaseImage?.();
    this.releaseImage = undefined;
  }

  private pump(stream: NodeJS.ReadableStream, name: 'stdout' | 'stderr'): void {
    pumpPaced(stream, (chunk) => this.deps.log.write(name, 'server', chunk));
    stream.on('error', () => undefined);
  }

  private async mainExited(main: ExecHandle, exit: ExecExit): Promise<void> {
    if (main !== this.main || this.stopping || this.deleted || this.detached) return;
    const how = exit.error ? `was lost (${exit.error})` : exit.code !== null ? `exited with code ${exit.code}` : `was killed by ${exit.signal}`;
    this.deps.log.system(`server ${how}`);
    // A harness that broke the control protocol is hostile: the instance fails (and backs off) instead of stopping.
    const violation = this.client?.protocolViolation;
    if (violation) this.backoff.crashed(this.now());
    else this.backoff.exited(this.now() - this.bootedAt, this.now());
    if (violation) await this.stopMachine('ProtocolViolation', violation.message, { failed: true });
    else await this.stopMachine('Exited', `the server ${how}`);
  }

  private async machineExited(machine: Machine): Promise<void> {
    if (machine !== this.machine || this.stopping || this.deleted || this.detached) return;
    this.deps.log.system('machine exited unexpectedly');
    this.backoff.crashed(this.now());
    await this.stopMachine('MachineLost', 'the machine exited unexpectedly');
  }

  /** Ends the machine; with `suspend` on a backend that can, its memory is saved so the next wake resumes it. */
  private async stopMachine(reason: string, message: string, opts: { suspend?: boolean; failed?: boolean; onlyIf?: () => boolean } = {}): Promise<void> {
    await this.serialize(async () => {
      // Decided before its turn came: whatever ran meanwhile may have made it moot.
      if (opts.onlyIf && !opts.onlyIf()) return;
      if (!this.machine) {
        if (this.stateValue !== 'failed') this.set('stopped', reason, message);
        return;
      }
      this.stopping = true;
      try {
        if (this.stateValue === 'paused') await this.machine.resume().catch(() => undefined);
        // Adopted while paused and never woken: connect now, so the guest's writes are flushed before it goes.
        if (!this.client && this.machine.state() === 'running') this.client = await connectMachine(this.machine, ADOPT_CONNECT_MS).catch(() => undefined);
        if (opts.suspend && (await suspendMachine(this.machine, this.client, this.deps.host, this.deps.log))) message += '; its memory is saved, the next request resumes it';
        await this.teardown();
        this.deps.log.system(reason === 'Deleted' ? 'stopped (deleted)' : `stopped: ${message}`);
        this.set(opts.failed ? 'failed' : 'stopped', reason, message);
      } finally {
        this.stopping = false;
      }
    });
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
