// A pseudo-terminal for an exec that asks for one (the dashboard's console): the master stays in the harness
// and carries the exec's output and input; the slave becomes the command's stdin, stdout, stderr and
// controlling terminal. Node cannot open a pty itself (grantpt, unlockpt and the window size are ioctls), so
// libc does it through the runtime's koffi; the runtime's `setsid --ctty` makes the slave the controlling
// terminal (Ctrl+C, job control), which a spawned child cannot take without running code before its exec.
import fs from 'node:fs';
import tty from 'node:tty';
import { koffi } from './koffi.js';

const O_RDWR = 0o2;
const O_NOCTTY = 0o400;
/** Same number on x86-64 and arm64 (asm-generic ioctls). */
const TIOCSWINSZ = 0x5414;

export interface TerminalSize {
  cols: number;
  rows: number;
}

export interface Pty {
  /** The master side as a stream: reads are the command's output, writes its keystrokes. */
  readonly master: tty.ReadStream;
  /** The slave's fd, for the child's stdio; close it here once the child has it. */
  readonly slave: number;
  resize(size: TerminalSize): void;
}

type LibcFn = (...args: unknown[]) => number | bigint;
let libc: { posix_openpt: LibcFn; grantpt: LibcFn; unlockpt: LibcFn; ptsname_r: LibcFn; ioctl: LibcFn } | undefined;

function lib() {
  if (libc) return libc;
  const k = koffi();
  const c = k.load('libc.so.6');
  libc = {
    posix_openpt: c.func('int posix_openpt(int flags)'),
    grantpt: c.func('int grantpt(int fd)'),
    unlockpt: c.func('int unlockpt(int fd)'),
    ptsname_r: c.func('int ptsname_r(int fd, _Out_ uint8_t *buf, size_t len)'),
    ioctl: c.func('int ioctl(int fd, unsigned long request, ...)'),
  };
  return libc;
}

function setSize(fd: number, { cols, rows }: TerminalSize): void {
  const ws = Buffer.alloc(8); // struct winsize { unsigned short ws_row, ws_col, ws_xpixel, ws_ypixel; }
  ws.writeUInt16LE(rows, 0);
  ws.writeUInt16LE(cols, 2);
  if (Number(lib().ioctl(fd, TIOCSWINSZ, 'uint8_t *', ws)) !== 0) throw new Error(`ioctl(TIOCSWINSZ) failed: errno ${koffi().errno()}`);
}

export function openPty(size: TerminalSize): Pty {
  const c = lib();
  const master = Number(c.posix_openpt(O_RDWR | O_NOCTTY));
  if (master < 0) throw new Error(`posix_openpt failed: errno ${koffi().errno()}`);
  let slave = -1;
  try {
    if (Number(c.grantpt(master)) !== 0 || Number(c.unlockpt(master)) !== 0) throw new Error(`grantpt/unlockpt failed: errno ${koffi().errno()}`);
    const name = Buffer.alloc(128);
    if (Number(c.ptsname_r(master, name, name.length)) !== 0) throw new Error(`ptsname_r failed: errno ${koffi().errno()}`);
    slave = fs.openSync(name.subarray(0, name.indexOf(0)).toString(), O_RDWR | O_NOCTTY);
    setSize(master, size);
  } catch (err) {
    if (slave >= 0) fs.closeSync(slave);
    fs.closeSync(master);
    throw err;
  }
  const stream = new tty.ReadStream(master);
  return { master: stream, slave, resize: (s) => setSize(master, s) };
}
