// A sandbox machine's harness outlives the host process that started it unless told otherwise (see the
// sandbox's launch-script.ts): it holds the read end of a pipe whose only writer is that process, and
// EOF on it means the machine's host side is gone, so the machine must stop.
import fs from 'node:fs';
import net from 'node:net';

export interface Lifeline {
  /** Calls `fn` once, when the pipe reaches EOF (its writer died). */
  onGone(fn: () => void): void;
}

/**
 * Takes the pipe on `fd`: reopened through /proc, close-on-exec as Node opens everything, so no workload
 * the harness starts inherits it (and closing stray inherited fds leaves it alone).
 */
export function takeLifeline(fd: number): Lifeline {
  const own = fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  fs.closeSync(fd);
  const pipe = new net.Socket({ fd: own, readable: true, writable: false });
  pipe.on('data', () => undefined); // nothing is ever written: only the end matters
  pipe.unref();
  return {
    onGone(fn) {
      let gone = false;
      const once = () => {
        if (gone) return;
        gone = true;
        fn();
      };
      pipe.once('end', once);
      pipe.once('error', once);
    },
  };
}
