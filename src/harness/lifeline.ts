// A sandbox machine's harness outlives the host process that started it unless told otherwise (see the
// sandbox's launch-script.ts): it holds the read end of a pipe whose only writer is that process, and
// EOF on it means the machine's host side is gone, so the machine must stop.
import fs from 'node:fs';
import net from 'node:net';

/** Calls `onGone` once, when the pipe on `fd` reaches EOF (its writer died). */
export function watchLifeline(fd: number, onGone: () => void): void {
  // Reopened through /proc: Node opens close-on-exec, so no workload the harness starts inherits it.
  const own = fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  fs.closeSync(fd);
  const pipe = new net.Socket({ fd: own, readable: true, writable: false });
  let gone = false;
  const once = () => {
    if (gone) return;
    gone = true;
    onGone();
  };
  pipe.on('data', () => undefined); // nothing is ever written: only the end matters
  pipe.once('end', once);
  pipe.once('error', once);
  pipe.unref();
}
