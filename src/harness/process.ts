// Spawns and tracks every child of the harness: output always drained, exits recorded, groups signalled.
//
// Reaping: libuv reaps the children Node spawned (waitpid on each known pid after SIGCHLD), but it
// never calls waitpid(-1), so a grandchild orphaned to the harness (PID 1 in a pid namespace) stays
// a zombie until the machine stops. Node offers no way around that without native code; zombies()
// counts them so health can report it, and shutdown signals the whole namespace when we are PID 1.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { Readable } from 'node:stream';
import type { ExecExit, ExecInfo, MainProcessInfo } from '../protocol/messages.js';

/** After the process exits, how long its pipes may stay open (held by a background grandchild) before we stop waiting. */
export const OUTPUT_GRACE_MS = 200;

export type OutputKind = 'stdout' | 'stderr';

/** Receives a process's output; returning false asks the table to pause both pipes until resumeOutput(). */
export type OutputSink = (kind: OutputKind, chunk: Buffer) => boolean;

export interface SpawnSpec {
  /** Absolute path of the executable. */
  file: string;
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  stdin: boolean;
  main: boolean;
  /** Credentials to run with (both or neither); absent = the harness's own. */
  uid?: number;
  gid?: number;
}

/** Normalises `TERM`, `sigterm` or `SIGTERM` to a signal name Node knows; undefined when unknown. */
export function signalName(input: string): NodeJS.Signals | undefined {
  const upper = input.trim().toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return name in os.constants.signals ? (name as NodeJS.Signals) : undefined;
}

function streamDone(stream: Readable | null): Promise<void> {
  if (!stream) return Promise.resolve();
  return new Promise((resolve) => {
    if (stream.readableEnded || stream.destroyed) return resolve();
    stream.once('end', resolve);
    stream.once('close', resolve);
  });
}

export class TrackedProcess {
  readonly execId: string;
  readonly pid: number;
  readonly argv0: string;
  readonly main: boolean;
  readonly startedAt = Date.now();
  readonly child: ChildProcess;
  /** Resolves once the process exited and its output was forwarded (or the grace ran out). */
  readonly finished: Promise<ExecExit>;
  exit: ExecExit | undefined;
  private sink: OutputSink | null = null;
  /** Tells the current sink's owner that another one took over (a second attach to the main process). */
  private onReplaced: (() => void) | null = null;
  private done = false;
  private paused = false;

  constructor(execId: string, child: ChildProcess, spec: SpawnSpec) {
    this.execId = execId;
    this.child = child;
    this.pid = child.pid as number;
    this.argv0 = spec.argv[0];
    this.main = spec.main;
    child.stdin?.on('error', () => {}); // EPIPE when the child stops reading: not our problem.
    for (const kind of ['stdout', 'stderr'] as const) {
      const stream = child[kind];
      if (!stream) continue;
      stream.on('error', () => {});
      stream.on('data', (chunk: Buffer) => {
        // Always read: without a sink the bytes are dropped so the child never blocks on a full pipe.
        if (this.sink && !this.sink(kind, chunk)) this.pauseOutput();
      });
    }
    const outputDone = Promise.all([streamDone(child.stdout), streamDone(child.stderr)]);
    this.finished = new Promise<ExecExit>((resolve) => {
      child.once('exit', (code, signal) => {
        const exit: ExecExit = { code, signal };
        this.exit = exit;
        const timer = setTimeout(done, OUTPUT_GRACE_MS);
        void outputDone.then(done);
        function done(): void {
          clearTimeout(timer);
          resolve(exit);
        }
      });
    });
    void this.finished.then(() => {
      this.done = true;
      this.detach();
    });
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /**
   * Sends output to `sink` from now on, replacing any earlier sink (whose `onReplaced` runs). Output
   * from before the call is gone: it was dropped or went to the earlier sink. No-op once finished.
   */
  attach(sink: OutputSink, onReplaced?: () => void): void {
    if (this.done) return;
    const previous = this.onReplaced;
    this.sink = sink;
    this.onReplaced = onReplaced ?? null;
    this.resumeOutput(); // a pause asked for by the earlier sink is not the new one's
    previous?.();
  }

  /** Stops forwarding (only if `sink`, when given, is still the current one); output keeps being read and dropped. */
  detach(sink?: OutputSink): void {
    if (sink && this.sink !== sink) return;
    this.sink = null;
    this.onReplaced = null;
    this.resumeOutput();
  }

  /** Whether `sink` is the one output goes to. */
  isAttached(sink: OutputSink): boolean {
    return this.sink === sink;
  }

  resumeOutput(): void {
    if (!this.paused) return;
    this.paused = false;
    this.child.stdout?.resume();
    this.child.stderr?.resume();
  }

  private pauseOutput(): void {
    if (this.paused || !this.sink) return;
    this.paused = true;
    this.child.stdout?.pause();
    this.child.stderr?.pause();
  }

  /** Signals the process group (the exec and everything it started); falls back to the pid. */
  signal(sig: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, sig);
    } catch {
      try {
        process.kill(this.pid, sig);
      } catch {
        // already gone
      }
    }
  }

  info(): ExecInfo {
    return { execId: this.execId, pid: this.pid, argv0: this.argv0, main: this.main, startedAt: this.startedAt };
  }
}

/** A main process whose spawn failed: its exit status and the one-line reason exec sent on stderr. */
export interface MainFailure {
  execId: string;
  exit: ExecExit;
  message: string;
}

export class ProcessTable {
  private readonly procs = new Map<string, TrackedProcess>();
  private mainProc: TrackedProcess | undefined;
  private mainFailure: MainFailure | undefined;

  newExecId(): string {
    return `exec-${randomBytes(6).toString('hex')}`;
  }

  /** Starts a child in its own process group; rejects with the spawn error (errno code in `.code`). */
  spawn(execId: string, spec: SpawnSpec): Promise<TrackedProcess> {
    const child = spawn(spec.file, spec.argv.slice(1), {
      argv0: spec.argv[0],
      env: spec.env,
      cwd: spec.cwd,
      ...(spec.uid !== undefined && spec.gid !== undefined ? { uid: spec.uid, gid: spec.gid } : effectiveIdentity()),
      stdio: [spec.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: true, // own process group, so a signal reaches the whole exec tree
      windowsHide: true,
    });
    if (child.pid === undefined) {
      return new Promise((_, reject) => child.once('error', reject));
    }
    child.on('error', () => {}); // kill() races with exit; the exit event is what counts
    preferAsOomVictim(child.pid);
    const proc = new TrackedProcess(execId, child, spec);
    this.procs.set(execId, proc);
    if (spec.main) {
      this.mainProc = proc;
      this.mainFailure = undefined;
    }
    void proc.finished.then(() => {
      if (this.procs.get(execId) === proc) this.procs.delete(execId);
    });
    return Promise.resolve(proc);
  }

  /** Records a main process that never started, so health and attach report why. */
  recordMainFailure(execId: string, exit: ExecExit, message: string): void {
    this.mainProc = undefined;
    this.mainFailure = { execId, exit, message };
  }

  /**
   * The latest main process: running or exited (it stays here with its exit until the next main
   * starts), or the failure of one that never started; undefined when none was ever asked for.
   */
  main(): TrackedProcess | MainFailure | undefined {
    return this.mainProc ?? this.mainFailure;
  }

  get(execId: string): TrackedProcess | undefined {
    return this.procs.get(execId);
  }

  running(): TrackedProcess[] {
    return [...this.procs.values()].filter((p) => p.running);
  }

  mainRunning(): boolean {
    return this.mainProc !== undefined && this.mainProc.running;
  }

  mainInfo(): MainProcessInfo | null {
    if (this.mainProc) {
      const p = this.mainProc;
      return { execId: p.execId, pid: p.pid, running: p.running, ...(p.exit ? { exit: p.exit } : {}) };
    }
    if (this.mainFailure) return { execId: this.mainFailure.execId, pid: 0, running: false, exit: this.mainFailure.exit };
    return null;
  }

  /**
   * SIGTERM to every child, SIGKILL to what is left after graceMs. As PID 1 of a pid namespace the
   * signals go to every process in it (orphans included); elsewhere only to our process groups.
   * Resolves with how many tracked processes needed SIGKILL.
   */
  async terminateAll(graceMs: number): Promise<number> {
    const isInit = process.pid === 1;
    const procs = this.running();
    if (isInit) killEverything('SIGTERM');
    for (const p of procs) p.signal('SIGTERM');
    const deadline = new Promise<'timeout'>((resolve) => setTimeout(resolve, graceMs, 'timeout').unref());
    await Promise.race([Promise.all(procs.map((p) => p.finished)), deadline]);
    const left = procs.filter((p) => p.running);
    for (const p of left) p.signal('SIGKILL');
    if (isInit) killEverything('SIGKILL');
    await Promise.race([Promise.all(left.map((p) => p.finished)), new Promise((r) => setTimeout(r, 1000).unref())]);
    return left.length;
  }

  /** Zombies whose parent is the harness: orphans that Node cannot reap. 0 where /proc is unreadable. */
  zombies(): number {
    let count = 0;
    let entries: string[];
    try {
      entries = fs.readdirSync('/proc');
    } catch {
      return 0;
    }
    const self = process.pid;
    for (const name of entries) {
      if (!/^\d+$/.test(name)) continue;
      let stat: string;
      try {
        stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
      } catch {
        continue;
      }
      // pid (comm) state ppid ...; comm may contain spaces and parentheses, so split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' && Number(fields[1]) === self) count++;
    }
    return count;
  }
}

/** kill(-1): every process we may signal except ourselves. Only ever called as PID 1 of a namespace. */
function killEverything(sig: NodeJS.Signals): void {
  try {
    process.kill(-1, sig);
  } catch {
    // nothing left
  }
}

/**
 * A workload over the machine's memory limit must be what the OOM killer picks, not the harness (PID 1,
 * whose death ends the machine). Raising a child's score needs no privilege, unlike lowering our own.
 */
function preferAsOomVictim(pid: number): void {
  try {
    fs.writeFileSync(`/proc/${pid}/oom_score_adj`, '1000');
  } catch {
    /* not PID 1 of a machine (tests on the host), or the child already exited */
  }
}

/**
 * A sandbox starts the harness with a real uid that is not root (which keeps it non-dumpable); its
 * children must not inherit that: they run with the effective identity, as if the harness were plain root.
 */
export function effectiveIdentity(): { uid?: number; gid?: number } {
  if (process.getuid!() === process.geteuid!()) return {};
  return { uid: process.geteuid!(), gid: process.getegid!() };
}
