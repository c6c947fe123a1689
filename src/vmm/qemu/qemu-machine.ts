// One running qemu machine: its control socket, QMP for pause/resume, and how to stop and watch it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { MachineStateError, type Machine, type MachineExit, type MachineState, type MachineStats } from '../backend.js';
import { adoptedProcessExit, connectWhenReady, processCpuMicros, terminateProcess } from '../process-util.js';
import type { QemuMachineDirs, QemuMachineRecord } from './machine-state.js';
import { qmpExecute } from './qmp-client.js';
import { discardSnapshot, saveSnapshot, type SnapshotChannel } from './memory-snapshot.js';
import { pathForQemu } from './qemu-confinement.js';
import { stateDiskPath, workspaceDiskPath } from './disk-image.js';
import { syncPort } from './port-handshake.js';
import { ConsoleCap } from '../console-cap.js';
import { readFileHead, readFileTail } from '../../util/read-file-end.js';

const CONSOLE_TAIL_BYTES = 2_000;
// The console is the guest's to fill: each look at it reads only a bounded end of the file.
/** The ready line comes right after the kernel's boot messages. */
const CONSOLE_HEAD_BYTES = 1024 * 1024;
/** The init panic line and the stack dump after it. */
const PANIC_TAIL_BYTES = 64 * 1024;
/** Recent enough for the OOM kill that ended a task or server. */
const OOM_TAIL_BYTES = 256 * 1024;
/** The harness's stderr (the guest console) says this once it serves the control port. */
const READY_LINE = 'aegis-harness: listening on';
/** The handshake's own budget when the boot took most of connect's: a paused guest answers only once resumed. */
const PORT_SYNC_MIN_MS = 10_000;
/** Writing guest RAM through zstd: about a second per few hundred MB here. */
const SNAPSHOT_SAVE_TIMEOUT_MS = 60_000;

export class QemuMachine implements Machine {
  readonly exited: Promise<MachineExit>;
  readonly note: string | undefined;
  private exit: MachineExit | undefined;
  private paused: boolean;

  constructor(
    readonly record: QemuMachineRecord,
    private readonly dirs: QemuMachineDirs,
    opts: {
      /** Resolves when our own qemu child exits; absent for an adopted machine, which is polled instead. */
      childExit?: Promise<MachineExit>;
      paused?: boolean;
      /** How the start went, worth a line in the instance's log (a snapshot that could not be used). */
      note?: string;
      /** Where the console file is cut back (the guest's kernel writes it, as much as it likes). */
      consoleBytes?: number;
    } = {},
  ) {
    this.paused = opts.paused ?? false;
    this.note = opts.note;
    const consoleCap = new ConsoleCap(dirs.console, opts.consoleBytes);
    this.exited = (opts.childExit ?? adoptedProcessExit(this.pid, this.record.pidStartTime)).then((e) => {
      consoleCap.stop();
      // qemu exits 0 both when the guest's PID 1 dies and on SIGTERM: the panic line tells the harness's status.
      const guest = guestExitFromConsole(this.dirs.console);
      this.exit = e.code === 0 && guest ? guest : e;
      return this.exit;
    });
  }

  get id(): string {
    return this.record.id;
  }

  /** The guest's serial console: kernel boot messages, then the harness's own lines. */
  get consoleFile(): string {
    return this.dirs.console;
  }

  get restored(): boolean {
    return this.record.restored === true;
  }

  get pid(): number {
    return this.record.pid;
  }

  state(): MachineState {
    return this.exit ? 'exited' : this.paused ? 'paused' : 'running';
  }

  /** Waits for the harness's ready line on the console, connects to the port's unix socket and syncs the port. */
  async connect(timeoutMs = 60_000): Promise<Duplex> {
    const started = Date.now();
    const socket = await connectWhenReady({ id: this.id, socket: this.dirs.socket, ready: () => this.harnessReady(), exited: () => !!this.exit, detail: () => this.consoleTail(), timeoutMs, pollMs: 20 });
    return syncPort(socket, Math.max(PORT_SYNC_MIN_MS, timeoutMs - (Date.now() - started)));
  }

  async pause(): Promise<void> {
    if (this.exit) throw new MachineStateError('pause', 'exited');
    await qmpExecute(this.record.qmpSocket, 'stop');
    this.paused = true;
  }

  async resume(): Promise<void> {
    if (this.exit) throw new MachineStateError('resume', 'exited');
    await qmpExecute(this.record.qmpSocket, 'cont');
    this.paused = false;
    // The guest moves on from any memory saved of it (one a dead daemon's save or restore left: see abandonDeadSave).
    if (this.record.spec.stateDir) discardSnapshot(this.record.spec.stateDir);
  }

  /** Saves the guest's memory into the spec's state dir (see memory-snapshot.ts), then ends qemu. */
  async suspend(): Promise<void> {
    if (this.exit) throw new MachineStateError('suspend', 'exited');
    const { stateDir } = this.record.spec;
    const fingerprint = this.record.snapshotFingerprint;
    if (!stateDir || !fingerprint) throw new Error(`machine ${this.id} has no state dir to keep its memory in`);
    try {
      const { workspaceDir } = this.record.spec;
      const disks = [stateDiskPath(stateDir), ...(workspaceDir ? [workspaceDiskPath(workspaceDir)] : [])];
      await saveSnapshot(this.record.qmpSocket, this.snapshotChannel(), stateDir, fingerprint, disks, SNAPSHOT_SAVE_TIMEOUT_MS);
    } catch (err) {
      discardSnapshot(stateDir);
      throw err;
    }
    this.paused = true;
    await qmpExecute(this.record.qmpSocket, 'quit').catch(() => undefined);
    await this.stop(0);
  }

  /**
   * Ends the VM: SIGTERM makes qemu stop the guest and exit (its disks are read-only or tmpfs, so nothing
   * is lost), SIGKILL after graceMs. Guest processes get no signal of their own: callers that want the
   * workload to stop gracefully ask the harness first (its shutdown call), as for every backend.
   */
  async stop(graceMs = 2_000): Promise<MachineExit> {
    if (this.exit) return this.exit;
    return terminateProcess(this.pid, this.exited, graceMs);
  }

  async stats(): Promise<MachineStats> {
    const cpuMicros = processCpuMicros(this.pid);
    // qemu's own CPU time is the guest's (an idle guest costs ~1 % of a CPU under TCG, well below the idle noise floor).
    return { oomKills: oomKillsFromConsole(this.dirs.console), memoryLimitBytes: this.record.guestMemoryMiB * 1024 * 1024, ...(cpuMicros !== undefined ? { cpuMicros } : {}) };
  }

  /** The socket in the machine's jail that qemu migrates a snapshot into. */
  private snapshotChannel(): SnapshotChannel {
    const confinement = this.record.confinement ?? {};
    const listenPath = path.join(this.dirs.jail, 'save.sock');
    // A machine from before the jail existed runs unconfined, as root: any path reaches it.
    fs.mkdirSync(this.dirs.jail, { recursive: true, mode: 0o700 });
    return { listenPath, qemuPath: pathForQemu(confinement, listenPath), ...(confinement.runAs ? { owner: confinement.runAs } : {}) };
  }

  private harnessReady(): boolean {
    // A restored guest's harness listened before this qemu existed: its console here starts empty.
    if (this.restored) return true;
    try {
      return readFileHead(this.dirs.console, CONSOLE_HEAD_BYTES).includes(READY_LINE);
    } catch {
      return false;
    }
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

/** The harness's wait status from the guest's "Attempted to kill init! exitcode=0x…" panic, if it died that way. */
export function guestExitFromConsole(consoleFile: string): MachineExit | undefined {
  let text: string;
  try {
    text = readFileTail(consoleFile, PANIC_TAIL_BYTES).toString('utf8');
  } catch {
    return undefined;
  }
  const m = /Attempted to kill init! exitcode=0x([0-9a-f]+)/.exec(text);
  if (!m) return undefined;
  const status = parseInt(m[1], 16);
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: null };
  const name = Object.entries(os.constants.signals).find(([, n]) => n === sig)?.[0] as NodeJS.Signals | undefined;
  return { code: null, signal: name ?? null };
}

/** The guest kernel's OOM kills: it reports each on the console (an error-level line, shown even with `quiet`). */
export function oomKillsFromConsole(consoleFile: string): number {
  try {
    return readFileTail(consoleFile, OOM_TAIL_BYTES).toString('utf8').match(/Out of memory: Killed process/g)?.length ?? 0;
  } catch {
    return 0;
  }
}
