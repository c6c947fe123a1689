// One running sandbox machine: its control socket, its cgroups, and how to pause, stop and watch it.
import fs from 'node:fs';
import type { Duplex } from 'node:stream';
import { MachineStateError, type Machine, type MachineExit, type MachineState, type MachineStats } from '../backend.js';
import { ConsoleCap } from '../console-cap.js';
import type { MachineCgroups } from './cgroups.js';
import { GUEST_CONTROL_SOCKET } from './launch-script.js';
import { guestControlSocket, guestInitPid, type MachineDirs, type MachineRecord } from './machine-state.js';
import { readFileTail } from '../../util/read-file-end.js';
import { adoptedProcessExit, connectWhenReady, signal } from '../process-util.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CONSOLE_TAIL_BYTES = 2_000;

export class SandboxMachine implements Machine {
  readonly exited: Promise<MachineExit>;
  private exit: MachineExit | undefined;
  private paused = false;
  private finalOomKills: number | undefined;
  private readonly consoleCap: ConsoleCap;

  constructor(
    readonly record: MachineRecord,
    private readonly dirs: MachineDirs,
    private readonly cgroups: MachineCgroups,
    consoleBytes: number | undefined,
    /** Resolves when our own child exits; absent for an adopted machine, which is polled instead. */
    childExit?: Promise<MachineExit>,
    /**
     * What the daemon holds for the machine's setup (its detached mounts, see guest-sources.ts): let go
     * of once the harness answers, the machine exits, or the boot times out.
     */
    private readonly boot?: { release: () => void; timeoutMs: number },
  ) {
    this.paused = cgroups.isFrozen();
    this.consoleCap = new ConsoleCap(dirs.console, consoleBytes);
    if (boot) setTimeout(() => this.releaseBoot(), boot.timeoutMs).unref();
    this.exited = (childExit ?? adoptedProcessExit(this.pid, this.record.pidStartTime)).then(async (e) => {
      this.releaseBoot();
      this.consoleCap.stop();
      // The groups die with the machine; keep the OOM count the reconciler may still ask for.
      this.finalOomKills = cgroups.oomKills();
      await cgroups.killAll();
      await cgroups.remove().catch(() => undefined);
      this.exit = e;
      return e;
    });
  }

  get id(): string {
    return this.record.id;
  }

  get consoleFile(): string {
    return this.dirs.console;
  }

  get pid(): number {
    return this.record.pid;
  }

  state(): MachineState {
    return this.exit ? 'exited' : this.paused ? 'paused' : 'running';
  }

  async connect(timeoutMs = 30_000): Promise<Duplex> {
    const socket = await connectWhenReady({ id: this.id, socket: () => this.socketPath(), ready: () => true, exited: () => !!this.exit, detail: () => this.consoleTail(), timeoutMs, pollMs: 3 });
    this.releaseBoot(); // the harness listens: the setup is over
    return socket;
  }

  private releaseBoot(): void {
    this.boot?.release();
  }

  /** The harness's socket seen from the host; undefined until the guest's PID 1 exists. */
  private socketPath(): string | undefined {
    if (this.record.socketPath) return this.record.socketPath; // a machine started by an older aegisd
    const init = guestInitPid(this.pid);
    return init === undefined ? undefined : guestControlSocket(init, GUEST_CONTROL_SOCKET);
  }

  async pause(): Promise<void> {
    if (this.exit) throw new MachineStateError('pause', 'exited');
    await this.cgroups.freeze();
    this.paused = true;
  }

  async resume(): Promise<void> {
    if (this.exit) throw new MachineStateError('resume', 'exited');
    await this.cgroups.thaw();
    this.paused = false;
  }

  async stop(graceMs = 2_000): Promise<MachineExit> {
    if (this.exit) return this.exit;
    // A frozen process cannot act on SIGTERM (or die of SIGKILL) until thawed.
    if (this.paused) await this.cgroups.thaw().catch(() => undefined);
    this.paused = false;
    const init = guestInitPid(this.pid);
    signal(init ?? this.pid, 'SIGTERM');
    const graceful = await Promise.race([this.exited, sleep(graceMs).then(() => undefined)]);
    if (graceful) return graceful;
    // unshare --kill-child takes the guest's PID 1, and with it the whole pid namespace, down too.
    if (init) signal(init, 'SIGKILL');
    signal(this.pid, 'SIGKILL');
    return this.exited;
  }

  async stats(): Promise<MachineStats> {
    const cpuMicros = this.exit ? undefined : this.cgroups.cpuMicros();
    const memoryBytes = this.exit ? undefined : this.cgroups.memoryBytes();
    return {
      oomKills: this.finalOomKills ?? this.cgroups.oomKills(),
      memoryLimitBytes: this.record.spec.memoryMiB * 1024 * 1024,
      ...(cpuMicros !== undefined ? { cpuMicros } : {}),
      ...(memoryBytes !== undefined ? { memoryBytes } : {}),
    };
  }


  private consoleTail(): string {
    try {
      const text = readFileTail(this.dirs.console, CONSOLE_TAIL_BYTES).toString('utf8').trim();
      return text ? `: ${text.split('\n').slice(-3).join(' | ')}` : '';
    } catch {
      return '';
    }
  }
}
