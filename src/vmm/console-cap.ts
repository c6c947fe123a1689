// A machine's console file is written from the guest's side (a VM's kernel, the harness, which a
// workload can make log) and read back for boot logs and crash reasons. Nothing else bounds it, so
// while the machine runs it is cut back to its newest part whenever it passes its limit.
import fs from 'node:fs';

/** Default limit of a console file. */
export const DEFAULT_CONSOLE_BYTES = 1024 * 1024;
/** What a cut keeps: the newest lines, enough for a crash reason and a boot log. */
const KEEP_BYTES = 64 * 1024;

export class ConsoleCap {
  private watcher: fs.FSWatcher | undefined;
  private cuts = 0;

  /** Starts watching `file`, which its writer must append to (O_APPEND), so that writes land after a cut. */
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
      const keep = Math.min(KEEP_BYTES, Math.floor(this.maxBytes / 2));
      const tail = Buffer.alloc(keep);
      const got = fs.readSync(fd, tail, 0, keep, Math.max(0, size - keep));
      // Start the kept part at a line boundary, after a line that says what happened.
      const body = tail.subarray(0, got);
      const nl = body.indexOf(0x0a);
      const lines = nl >= 0 ? body.subarray(nl + 1) : body;
      fs.ftruncateSync(fd, 0);
      const note = `[aegis: console output passed ${this.maxBytes} bytes; ${size - lines.length} earlier bytes dropped]\n`;
      fs.writeSync(fd, Buffer.concat([Buffer.from(note), lines]), 0, undefined, 0);
      this.cuts++;
    } catch {
      /* gone meanwhile */
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
}
