// An NDJSON log on disk (an instance's, a task's, aegisd's own), rotated by size (`f`, `f.1` … `f.N`), that readers can follow across rotations.
//
// The files are the truth: the writer only appends, readers read at their own pace. A follower opens the next
// file synchronously the moment the writer rotates, so it keeps every line even once the file is renamed or
// dropped; only a follower more than `keepFiles + 1` files behind loses whole files, and is told so by a gap line.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { promisify } from 'node:util';

const READ_CHUNK = 256 * 1024;
/** A line-count mark starts with this key (entries start with `{"ts"`, task marks with `{"before"`). */
const LINES_MARK_PREFIX = '{"linesBefore":';
const readFd = promisify(fs.read);

export interface RotationLimits {
  maxBytes: number;
  keepFiles: number;
}

export interface RotatingLogOptions {
  /**
   * A line (ending in \n) written first in every file a rotation starts, so a reader that begins there can tell
   * what came before it (a task log says how much output was dropped).
   */
  rotationMark?: () => Buffer;
  /**
   * Count lines: each file a rotation starts begins with a mark of how many lines were appended before it, so a
   * reader that starts at the oldest kept file learns how many lines rotation dropped (a `dropped` item).
   */
  countLines?: boolean;
}

/**
 * What a raw read yields: a whole stored line; word that `gap` whole files were skipped here; or, once per
 * follow, word that the reader has caught up with the writer (history ends, live lines begin).
 */
export type RawLine = { line: string } | { gap: number } | { caughtUp: true } | { dropped: number };

export class RotatingLog {
  private fd: number | undefined;
  private size = 0;
  /** Bumped on every append and rotation; a reader compares it to know whether to wait. */
  private version = 0;
  private removed = false;
  /** No more lines will come: followers end once they have read everything. */
  private ended = false;
  private followers = 0;
  /** With countLines: lines appended before the current file, and in it (marks aside). */
  private linesBefore = 0;
  private linesInFile = 0;
  private readonly events = new EventEmitter();

  constructor(
    readonly file: string,
    private readonly limits: RotationLimits,
    private readonly opts: RotatingLogOptions = {},
  ) {
    this.events.setMaxListeners(0);
  }

  /** Oldest first: the rotated files that exist, then the current one. */
  private paths(): string[] {
    const out: string[] = [];
    for (let i = this.limits.keepFiles; i >= 1; i--) out.push(`${this.file}.${i}`);
    out.push(this.file);
    return out;
  }

  get followerCount(): number {
    return this.followers;
  }

  /** Appends whole NDJSON lines (each ending in \n), rotating first whenever the next line would pass maxBytes. */
  append(lines: Buffer[]): void {
    if (this.removed || this.ended || lines.length === 0) return;
    this.open();
    let batch: Buffer[] = [];
    let batchBytes = 0;
    for (const line of lines) {
      if (this.size + batchBytes > 0 && this.size + batchBytes + line.length > this.limits.maxBytes) {
        this.writeBatch(batch, batchBytes);
        batch = [];
        batchBytes = 0;
        this.rotate();
      }
      batch.push(line);
      batchBytes += line.length;
      this.linesInFile++;
    }
    this.writeBatch(batch, batchBytes);
  }

  /** Releases the file descriptor; the next append reopens (a writer may come back after a stop). */
  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  /** No more lines will be appended: followers finish once they have read everything. */
  end(): void {
    this.close();
    this.ended = true;
    this.changed();
  }

  /** Deletes every file and ends all followers. */
  remove(): void {
    this.close();
    this.removed = true;
    for (const p of this.paths()) fs.rmSync(p, { force: true });
    this.changed();
  }

  private open(): void {
    if (this.fd !== undefined) return;
    // a+: appends, and lets us look at the last byte of a file an earlier daemon left.
    this.fd = fs.openSync(this.file, 'a+', 0o600);
    this.size = fs.fstatSync(this.fd).size;
    if (this.size > 0) {
      // A daemon that died mid-write left a torn last line: start ours on a fresh line so both parse apart.
      const last = Buffer.alloc(1);
      fs.readSync(this.fd, last, 0, 1, this.size - 1);
      if (last[0] !== 10) this.writeBatch([Buffer.from('\n')], 1);
      if (this.opts.countLines) this.countExisting();
    }
  }

  /** A file an earlier daemon wrote: its mark says what came before it, its newlines how many lines it holds. */
  private countExisting(): void {
    const text = fs.readFileSync(this.file);
    let lines = 0;
    for (let at = text.indexOf(10); at >= 0; at = text.indexOf(10, at + 1)) lines++;
    const firstLine = text.subarray(0, Math.max(0, text.indexOf(10))).toString('utf8');
    const before = markedLinesBefore(firstLine);
    this.linesBefore = before ?? 0;
    this.linesInFile = lines - (before === undefined ? 0 : 1);
  }

  private writeBatch(batch: Buffer[], bytes: number): void {
    if (batch.length === 0) return;
    // Synchronous appends keep lines in order and on disk before any reader is woken.
    fs.writeSync(this.fd!, batch.length === 1 ? batch[0] : Buffer.concat(batch, bytes));
    this.size += bytes;
    this.changed();
  }

  private rotate(): void {
    this.close();
    const keep = this.limits.keepFiles;
    if (keep === 0) fs.rmSync(this.file, { force: true });
    // renameSync replaces the target, so the oldest file (`.keep`) is dropped by the first rename.
    for (let i = keep; i >= 1; i--) {
      const from = i === 1 ? this.file : `${this.file}.${i - 1}`;
      if (fs.existsSync(from)) fs.renameSync(from, `${this.file}.${i}`);
    }
    this.fd = fs.openSync(this.file, 'a', 0o600);
    this.size = 0;
    const mark = this.opts.rotationMark?.();
    if (mark) this.writeBatch([mark], mark.length);
    if (this.opts.countLines) {
      this.linesBefore += this.linesInFile;
      this.linesInFile = 0;
      const lines = Buffer.from(`${LINES_MARK_PREFIX}${this.linesBefore}}\n`);
      this.writeBatch([lines], lines.length);
    }
    // Followers open the new file now, synchronously, before another rotation could move it.
    this.events.emit('rotated');
    this.changed();
  }

  private changed(): void {
    this.version++;
    this.events.emit('changed');
  }

  /**
   * Yields every stored line from the oldest file on; with `follow`, then lines as they are appended, across
   * rotations, until `signal` aborts or the log is removed. Nothing is buffered for a slow reader: it reads the
   * files at its own pace.
   */
  async *read(opts: { follow: boolean; signal?: AbortSignal }): AsyncGenerator<RawLine> {
    // Everything up to the first await is synchronous, so no rotation can slip between these opens.
    const queue: number[] = [];
    for (const p of this.paths()) {
      // A follower that comes before the first line creates the (empty) file the writer will append to.
      const fd = opts.follow && p === this.file ? fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_CREAT, 0o600) : openIfExists(p);
      if (fd !== undefined) queue.push(fd);
    }
    let skipped = 0;
    const onRotated = () => {
      queue.push(fs.openSync(this.file, fs.constants.O_RDONLY | fs.constants.O_CREAT, 0o600));
      // Bound what one stalled follower keeps alive on disk: past that it loses whole files, and says so.
      while (queue.length > this.limits.keepFiles + 1) {
        fs.closeSync(queue.shift()!);
        skipped++;
      }
    };
    if (opts.follow) {
      this.events.on('rotated', onRotated);
      this.followers++;
    }
    let fd = queue.shift();
    try {
      if (fd === undefined) return;
      let pos = 0;
      // Bytes after the last newline read so far: a line (or a UTF-8 character) cut by the read size.
      let carry = Buffer.alloc(0);
      let sawNext = false;
      let caughtUp = false;
      // Only the first file read can have lost lines before it; later marks follow what was read.
      let firstLine = true;
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      for (;;) {
        if (opts.signal?.aborted || this.removed) return;
        const seen = this.version;
        const { bytesRead } = await readFd(fd, buf, 0, READ_CHUNK, pos);
        if (bytesRead > 0) {
          pos += bytesRead;
          const data = carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
          const last = data.lastIndexOf(10);
          carry = Buffer.from(data.subarray(last + 1));
          if (last < 0) continue;
          const lines = data.toString('utf8', 0, last).split('\n');
          for (const line of lines) {
            if (line.length === 0) continue;
            if (line.startsWith(LINES_MARK_PREFIX)) {
              const dropped = markedLinesBefore(line);
              if (firstLine && dropped) yield { dropped };
            } else {
              yield { line };
            }
            firstLine = false;
          }
          continue;
        }
        if (queue.length > 0) {
          // The writer has moved on; one more read to the end after noticing catches its last append here.
          if (!sawNext) {
            sawNext = true;
            continue;
          }
          fs.closeSync(fd);
          fd = queue.shift()!;
          pos = 0;
          carry = Buffer.alloc(0);
          sawNext = false;
          firstLine = false;
          if (skipped > 0) {
            yield { gap: skipped };
            skipped = 0;
          }
          continue;
        }
        if (!opts.follow) return;
        if (this.version !== seen) continue;
        if (this.ended) return;
        if (!caughtUp) {
          caughtUp = true;
          yield { caughtUp };
          continue;
        }
        await this.nextChange(opts.signal);
      }
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
      for (const rest of queue.splice(0)) fs.closeSync(rest);
      if (opts.follow) {
        this.events.off('rotated', onRotated);
        this.followers--;
      }
    }
  }

  private nextChange(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      // An abort that landed while we were reading has already fired: do not wait for another one.
      if (signal?.aborted) return resolve();
      const done = () => {
        this.events.off('changed', done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.events.on('changed', done);
      signal?.addEventListener('abort', done);
    });
  }
}

/** The count in a line-count mark, or undefined when the line is not one. */
function markedLinesBefore(line: string): number | undefined {
  if (!line.startsWith(LINES_MARK_PREFIX)) return undefined;
  const n = Number(line.slice(LINES_MARK_PREFIX.length, -1));
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function openIfExists(p: string): number | undefined {
  try {
    return fs.openSync(p, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
