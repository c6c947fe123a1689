// Small process and socket helpers both backends use to drive their machines from the host.
import fs from 'node:fs';
import net from 'node:net';

/** Sends a signal, ignoring a process that is already gone. */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** After SIGTERM, how long a VMM process (qemu, the libkrun worker) may take to exit before SIGKILL, at least. */
const TERM_GRACE_MS = 3_000;

/** Ends a VMM process: SIGTERM, then SIGKILL once `graceMs` (at least TERM_GRACE_MS) has passed without an exit. */
export async function terminateProcess<T>(pid: number, exited: Promise<T>, graceMs: number): Promise<T> {
  signal(pid, 'SIGTERM');
  const graceful = await Promise.race([exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), Math.max(graceMs, TERM_GRACE_MS)))]);
  if (graceful !== undefined) return graceful;
  signal(pid, 'SIGKILL');
  return exited;
}

/** open(2) flags Node has no constant for (Linux, every architecture Aegis runs on). */
const O_PATH = 0o10000000;

/**
 * A connected unix socket, or undefined when nothing listens there (yet). The path's last component may
 * be in a directory the guest can write: it is opened without following a symlink and must be a socket,
 * and the connection goes to that very inode (through /proc/self/fd), so a guest cannot swap in a link
 * to a host socket between the check and the connect.
 */
export function tryConnect(socketPath: string): Promise<net.Socket | undefined> {
  let fd: number;
  try {
    fd = fs.openSync(socketPath, O_PATH | fs.constants.O_NOFOLLOW);
  } catch {
    return Promise.resolve(undefined);
  }
  const close = () => fs.closeSync(fd);
  if (!fs.fstatSync(fd).isSocket()) {
    close();
    return Promise.resolve(undefined);
  }
  return new Promise((resolve) => {
    const s = net.connect(`/proc/self/fd/${fd}`);
    s.once('connect', () => {
      close();
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', () => {
      close();
      s.destroy();
      resolve(undefined);
    });
  });
}

/**
 * Polls until the machine's harness accepts on its control socket: rejects when the machine exits first
 * or the deadline passes, naming the last console lines (`detail()`) so a failed boot explains itself.
 */
export async function connectWhenReady(m: {
  id: string;
  /** The socket's path, or a function giving it (undefined while it cannot be known yet). */
  socket: string | (() => string | undefined);
  ready: () => boolean;
  exited: () => boolean;
  detail: () => string;
  timeoutMs: number;
  pollMs: number;
}): Promise<net.Socket> {
  const deadline = Date.now() + m.timeoutMs;
  for (;;) {
    if (m.exited()) throw new Error(`machine ${m.id} exited before its harness listened${m.detail()}`);
    const path = !m.ready() ? undefined : typeof m.socket === 'string' ? m.socket : m.socket();
    if (path) {
      const socket = await tryConnect(path);
      if (socket) return socket;
    }
    if (Date.now() > deadline) throw new Error(`machine ${m.id}: harness did not listen within ${m.timeoutMs} ms${m.detail()}`);
    await new Promise((r) => setTimeout(r, m.pollMs));
  }
}

/** How often adopted machines' processes (not our children, so no exit events) are checked for life. */
const ADOPTED_POLL_MS = 250;
/**
 * Every this many checks (10 s) the start time is read too, which tells a recycled pid from the machine's: a
 * pid taken again that soon is rare, and reading /proc/PID/stat costs a hundred times the kill.
 */
const START_TIME_EVERY = 40;

interface Watched {
  pid: number;
  startTime: number;
  gone: () => void;
}

/**
 * One timer checks every adopted machine: most checks are a signal-0 kill (one syscall). A timer per machine
 * reading /proc/PID/stat on every check was most of an idle daemon's CPU once it had re-adopted its machines.
 */
const watched = new Set<Watched>();
let poller: NodeJS.Timeout | undefined;
let checks = 0;

function checkAdopted(): void {
  const withStartTime = ++checks % START_TIME_EVERY === 0;
  for (const w of watched) {
    if (processExists(w.pid) && (!withStartTime || pidStartTime(w.pid) === w.startTime)) continue;
    watched.delete(w);
    w.gone();
  }
  if (watched.size === 0) {
    clearInterval(poller);
    poller = undefined;
  }
}

/**
 * Resolves once the process that had `startTime` is gone (a recycled pid has another start time): the
 * exit of a machine process a restarted daemon adopted, which it cannot wait for. Its status is unknown.
 */
export function adoptedProcessExit(pid: number, startTime: number): Promise<{ code: null; signal: null }> {
  if (pidStartTime(pid) !== startTime) return Promise.resolve({ code: null, signal: null });
  return new Promise((resolve) => {
    watched.add({ pid, startTime, gone: () => resolve({ code: null, signal: null }) });
    // Unref'd: the daemon's servers keep it alive; a test that adopted a machine need not stop this timer.
    poller ??= setInterval(checkAdopted, ADOPTED_POLL_MS).unref();
  });
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // there, but not ours to signal
  }
}

/** Field 22 of /proc/PID/stat, or undefined when the process is gone. */
export function pidStartTime(pid: number): number | undefined {
  return procStatFields(pid)?.[19];
}

/** CPU time the process has used (user + system), in microseconds. */
export function processCpuMicros(pid: number): number | undefined {
  const fields = procStatFields(pid);
  // utime and stime count clock ticks, USER_HZ = 100 on every Linux ABI Aegis runs on.
  return fields ? (fields[11] + fields[12]) * 10_000 : undefined;
}

/** /proc/PID/stat's fields from the third on (state, ppid, ...) as numbers; undefined once the process is gone. */
function procStatFields(pid: number): number[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  } catch {
    return undefined;
  }
}
