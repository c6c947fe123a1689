// An append-only NDJSON log on disk that readers can follow: the file is the truth, events only wake readers.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import type { LogEntry } from './log-entry.js';

const READ_CHUNK = 256 * 1024;

export class LogFile {
  private fd: number | undefined;
  private size = 0;
  private closed = false;
  private readonly grew = new EventEmitter();

  constructor(readonly file: string) {
    this.grew.setMaxListeners(0);
  }

  /** Opens for appending; an existing file (from an earlier daemon) is kept and treated as finished. */
  static openExisting(file: string): LogFile | undefined {
    if (!fs.existsSync(file)) return undefined;
    const log = new LogFile(file);
    log.size = fs.statSync(file).size;
    log.closed = true;
    return log;
  }

  append(entry: LogEntry): void {
    if (this.closed) return;
    this.fd ??= fs.openSync(this.file, 'a', 0o600);
    // Synchronous appends keep entries in order and make every accepted chunk durable before readers see it.
    const bytes = Buffer.from(JSON.stringify(entry) + '\n');
    fs.writeSync(this.fd, bytes);
    this.size += bytes.length;
    this.grew.emit('grew');
  }

  /** No more entries will come: followers finish once they have read everything. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    this.grew.emit('grew');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Yields the file's bytes (whole NDJSON lines) from the start; with `follow`, keeps yielding as the log
   * grows until it is closed or `signal` aborts. The consumer's pace sets the read pace: nothing is buffered
   * in memory for a slow reader and nothing is dropped.
   */
  async *read(opts: { follow: boolean; signal?: AbortSignal }): AsyncGenerator<Buffer> {
    let offset = 0;
    const fd = await fs.promises.open(this.file, fs.constants.O_RDONLY | fs.constants.O_CREAT, 0o600);
    try {
      for (;;) {
        if (opts.signal?.aborted) return;
        const end = this.size;
        while (offset < end) {
          const buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, end - offset));
          const { bytesRead } = await fd.read(buf, 0, buf.length, offset);
          if (bytesRead === 0) break;
          offset += bytesRead;
          yield buf.subarray(0, bytesRead);
        }
        if (!opts.follow || (this.closed && offset >= this.size)) return;
        if (offset < this.size) continue;
        await new Promise<void>((resolve) => {
          const done = () => {
            this.grew.off('grew', done);
            opts.signal?.removeEventListener('abort', done);
            resolve();
          };
          this.grew.on('grew', done);
          opts.signal?.addEventListener('abort', done);
        });
      }
    } finally {
      await fd.close();
    }
  }
}
