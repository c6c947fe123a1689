// Closes what the harness inherited beyond stdin, stdout and stderr: whatever fds the daemon's own parent
// left open without close-on-exec travel through every exec of a machine's launch, and Node passes them on
// to every child it spawns. Node's own fds are all close-on-exec, so those without it are exactly the strays.
import fs from 'node:fs';

const O_CLOEXEC = 0o2000000;

/** Closes every fd above 2 that is not close-on-exec; returns how many. */
export function closeInheritedFds(): number {
  let closed = 0;
  for (const entry of fs.readdirSync('/proc/self/fd')) {
    const fd = Number(entry);
    if (!(fd > 2)) continue;
    let flags: number;
    try {
      flags = parseInt(/^flags:\s*([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '', 8);
    } catch {
      continue; // the directory's own fd, closed by now
    }
    if (Number.isNaN(flags) || flags & O_CLOEXEC) continue;
    try {
      fs.closeSync(fd);
      closed++;
    } catch {
      /* already gone */
    }
  }
  return closed;
}
