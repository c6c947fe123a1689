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

/** How often an adopted machine's process (not our child, so no exit event) is checked for life. */
const ADOPTED_POLL_MS = 250;

/**
 * Resolves once the process that had `startTime` is gone (a recycled pid has another start time): the
 * exit of a machine process a restarted daemon adopted, which it cannot wait for. Its status is unknown.
 */
export async function adoptedProcessExit(pid: number, startTime: number): Promise<{ code: null; signal: null }> {
  while (pidStartTime(pid) === startTime) await new Promise((r) => setTimeout(r, ADOPTED_POLL_MS));
  return { code: null, signal: null };
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
