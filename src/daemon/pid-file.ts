// The daemon's PID file: written once the socket listens, so its presence means "ready for requests".
// Named imports: see config/paths.ts.
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';

export function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** An exited process not yet reaped by its parent (the daemon is reparented, so that can take a while). */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false; // no /proc (macOS): kill(0) is all we have
  }
}

/** The pid of a live daemon recorded in the file, else undefined (a stale file is ignored). */
export function runningPid(file: string): number | undefined {
  const pid = readPid(file);
  return pid !== undefined && isAlive(pid) ? pid : undefined;
}

export function writePid(file: string, pid: number): void {
  const tmp = `${file}.${pid}.tmp`;
  writeFileSync(tmp, `${pid}\n`, { mode: 0o644 });
  renameSync(tmp, file);
}

export function removePid(file: string, pid: number): void {
  if (readPid(file) === pid) rmSync(file, { force: true });
}
