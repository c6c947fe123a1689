// One running libkrun machine: its worker process (the VM lives and dies with it), the control socket the
// worker serves, and the files it writes. libkrun cannot pause a VM: pause and resume are refused.
import fs from 'node:fs';
import type { Duplex } from 'node:stream';
import { conflict } from '../../errors/codes.js';
import { readFileHead, readFileTail } from '../../util/read-file-end.js';
import { MachineStateError, type Machine, type MachineExit, type MachineState, type MachineStats } from '../backend.js';
import { ConsoleCap } from '../console-cap.js';
import { adoptedProcessExit, connectWhenReady, processCpuMicros, terminateProcess } from '../process-util.js';
import { syncPort } from '../qemu/port-handshake.js';
import type { LibkrunMachineDirs, LibkrunMachineRecord } from './machine-state.js';

/** The harness's stderr (the console) says this once it serves the control port. */
const READY_LINE = 'aegis-harness: listening on';
/** The ready line comes right after libkrun's init starts the harness. */
const CONSOLE_HEAD_BYTES = 256 * 1024;
const TAIL_BYTES = 4_000;
/** Recent enough for the OOM kill that ended a task or server. */
const OOM_TAIL_BYTES = 256 * 1024;
/** The handshake's own budget when the boot took most of connect's. */
const PORT_SYNC_MIN_MS = 10_000;

export const cannotPause = () =>
  conflict('the libkrun backend cannot pause a machine: libkrun has no call to pause a running VM (an idle instance is stopped instead)');

export class LibkrunMachine implements Machine {
  readonly exited: Promise<MachineExit>;
  private exit: MachineExit | undefined;

  constructor(
    readonly record: LibkrunMachineRecord,
    private readonly dirs: LibkrunMachineDirs,
    opts: {
      /** Resolves when our own worker child exits; absent for an adopted machine, which is polled instead. */
      childExit?: Promise<MachineExit>;
      /** Where the console and the worker's log are cut back (the guest writes both, as much as it likes). */
      consoleBytes?: number;
    } = {},
  ) {
    const caps = [new ConsoleCap(dirs.console, opts.consoleBytes), new ConsoleCap(dirs.workerLog, opts.consoleBytes)];
    this.exited = (opts.childExit ?? adoptedProcessExit(this.pid, this.record.pidStartTime)).then((e) => {
      for (const cap of caps) cap.stop();
      this.exit = e;
      return e;
    });
  }

  get id(): string {
    return this.record.id;
  }

  get pid(): number {
    return this.record.pid;
  }

  /** The guest's stdout and stderr: the harness's own lines. */
  get consoleFile(): string {
    return this.dirs.console;
  }

  state(): MachineState {
    return this.exit ? 'exited' : 'running';
  }

  /** Waits for the harness's ready line on the console, connects to the worker's control socket and syncs the port. */
  async connect(timeoutMs = 30_000): Promise<Duplex> {
    const started = Date.now();
    const socket = await connectWhenReady({ id: this.id, socket: this.dirs.socket, ready: () => this.harnessReady(), exited: () => !!this.exit, detail: () => this.failureDetail(), timeoutMs, pollMs: 10 });
    return syncPort(socket, Math.max(PORT_SYNC_MIN_MS, timeoutMs - (Date.now() - started)));
  }

  async pause(): Promise<void> {
    if (this.exit) throw new MachineStateError('pause', 'exited');
    throw cannotPause();
  }

  async resume(): Promise<void> {
    if (this.exit) throw new MachineStateError('resume', 'exited');
    throw cannotPause();
  }

  /**
   * Ends the VM by ending its worker: SIGTERM, SIGKILL after graceMs. Guest processes get no signal of their
   * own: callers that want the workload to stop gracefully ask the harness first, as for every backend.
   */
  async stop(graceMs = 2_000): Promise<MachineExit> {
    if (this.exit) return this.exit;
    return terminateProcess(this.pid, this.exited, graceMs);
  }

  async stats(): Promise<MachineStats> {
    const cpuMicros = this.exit ? undefined : treeCpuMicros(this.pid);
    return { oomKills: this.oomKills(), memoryLimitBytes: this.record.guestMemoryMiB * 1024 * 1024, ...(cpuMicros !== undefined ? { cpuMicros } : {}) };
  }

  /** The guest kernel reports each OOM kill on its console, which libkrun logs on the worker's stderr. */
  private oomKills(): number {
    try {
      return readFileTail(this.dirs.workerLog, OOM_TAIL_BYTES).toString('utf8').match(/Out of memory: Killed process/g)?.length ?? 0;
    } catch {
      return 0;
    }
  }

  private harnessReady(): boolean {
    try {
      return readFileHead(this.dirs.console, CONSOLE_HEAD_BYTES).includes(READY_LINE);
    } catch {
      return false;
    }
  }


  /** Why a boot failed: the worker's last stderr line (a libkrun call's errno, say), else the console's last lines. */
  private failureDetail(): string {
    const last = (file: string, lines: number) => {
      try {
        return readFileTail(file, TAIL_BYTES).toString('utf8').trim().split('\n').slice(-lines).join(' | ');
      } catch {
        return '';
      }
    };
    const text = last(this.dirs.workerLog, 1) || last(this.dirs.console, 3);
    return text ? `: ${text}` : '';
  }
}

/**
 * CPU time of the worker and every process below it, in microseconds. libkrun runs the guest's vCPUs as the
 * worker's threads; a worker that runs helpers (the test double runs the guest as child processes) counts them too.
 */
function treeCpuMicros(pid: number): number | undefined {
  const own = processCpuMicros(pid);
  if (own === undefined) return undefined;
  let total = own;
  for (const child of childPids(pid)) total += treeCpuMicros(child) ?? 0;
  return total;
}

function childPids(pid: number): number[] {
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  return tids.flatMap((tid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
    } catch {
      return []; // the thread ended meanwhile
    }
  });
}
