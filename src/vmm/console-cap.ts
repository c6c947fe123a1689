// A machine's console file is written from the guest's side (a VM's kernel, the harness, which a
// workload can make log) and read back for boot logs, the harness's ready line and crash reasons. Nothing
// else bounds it, so while the machine runs it is cut back whenever it passes its limit: its beginning
// (the boot) and its newest lines stay, with a line in between saying how much was dropped.
import fs from 'node:fs';

/** Default limit of a console file. */
export const DEFAULT_CONSOLE_BYTES = 1024 * 1024;
/** What a cut keeps at the start (the boot, up to the harness's ready line) and at the end (a crash reason). */
const HEAD_BYTES = 256 * 1024;
const TAIL_BYTES = 64 * 1024;

export class ConsoleCap {
  private watcher: fs.FSWatcher | undefined;
  private cuts = 0;

  /** Starts watching `file`, which its writer must append to (O_APPEND) so that its writes land after a cut. */
  constructor(
    private readonly file: string,
    private readonly maxBytes: number = DEFAULT_CONSOLE_BYTES,
  ) {
    this.check();
    try {
      this.watcher = fs.watch(file, { persistent: false }, () => this.check());
      this.watcher.on('error', () => this.stop());
    } catch {
      /* no file yet (or gone): nothing to bound */
    }
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** How many times the file was cut back. */
  get cutCount(): number {
    return this.cuts;
  }

  private check(): void {
    let fd: number | undefined;
    try {
      if (fs.statSync(this.file).size <= this.maxBytes) return;
      fd = fs.openSync(this.file, 'r+');
      const size = fs.fstatSync(fd).size;
      const headLength = lineEnd(fd, Math.min(HEAD_BYTES, Math.floor(this.maxBytes / 4)));
      const tail = Buffer.alloc(Math.min(TAIL_BYTES, Math.floor(this.maxBytes / 4)));
      const got = fs.readSync(fd, tail, 0, tail.length, Math.max(headLength, size - tail.length));
      // The kept tail starts at a line boundary.
      const nl = tail.subarray(0, got).indexOf(0x0a);
      const lines = nl >= 0 ? tail.subarray(nl + 1, got) : tail.subarray(0, got);
      const dropped = size - headLength - lines.length;
      fs.ftruncateSync(fd, headLength);
      const note = `[aegis: console output passed ${this.maxBytes} bytes; ${dropped} bytes dropped here]\n`;
      fs.writeSync(fd, Buffer.concat([Buffer.from(note), lines]), 0, undefined, headLength);
      this.cuts++;
    } catch {
      /* gone meanwhile */
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
}

/** The offset just after the last newline in the first `max` bytes (0 when there is none). */
function lineEnd(fd: number, max: number): number {
  const head = Buffer.alloc(max);
  const got = fs.readSync(fd, head, 0, max, 0);
  return head.subarray(0, got).lastIndexOf(0x0a) + 1;
}
