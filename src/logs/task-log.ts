// One task's NDJSON log, kept within a size cap by rotation: the newest output (and the exit record) stays,
// the oldest goes, and every reader that misses output is told so by a system line.
//
// A live follower (`aegis run`) reads each file as it is written, so it misses nothing unless it falls a
// whole cap behind. Each file a rotation starts begins with a mark recording how much output came before
// it: a reader whose first line is such a mark knows that output was dropped, and how much.
import { formatByteSize } from '../resources/byte-size.js';
import { entryBytes, type LogEntry } from './log-entry.js';
import { RotatingLog } from './rotating-log.js';

/** Rotated files kept besides the current one: the cap is split in KEEP_FILES + 1 parts, so at most a quarter is lost at once. */
const KEEP_FILES = 3;
/** Mark lines start with this key (entries start with `{"ts"`), so readers spot them without parsing every line. */
const MARK_PREFIX = '{"before":';

interface RotationMark {
  /** Output bytes written before the file this mark starts. */
  before: number;
}

export class TaskLog {
  private readonly log: RotatingLog;
  /** Output bytes appended so far, for the rotation marks. */
  private outputBytes = 0;

  constructor(
    file: string,
    /** The most the log's files may hold together (`limits.taskLog`). */
    private readonly maxBytes: number,
  ) {
    const mark = (): RotationMark => ({ before: this.outputBytes });
    this.log = new RotatingLog(
      file,
      { maxBytes: Math.floor(maxBytes / (KEEP_FILES + 1)), keepFiles: KEEP_FILES },
      { rotationMark: () => Buffer.from(JSON.stringify(mark()) + '\n') },
    );
  }

  append(entry: LogEntry): void {
    this.log.append([Buffer.from(JSON.stringify(entry) + '\n')]);
    this.outputBytes += entryBytes(entry).length;
  }

  /** No more entries will come: followers finish once they have read everything. */
  close(): void {
    this.log.end();
  }

  /** Deletes the log's files and ends its followers. */
  remove(): void {
    this.log.remove();
  }

  /**
   * Yields the stored NDJSON lines (each a Buffer ending in \n) from the oldest kept one on; with `follow`, then
   * new ones until the log is closed or `signal` aborts. Dropped output shows up as one `system` entry in its place.
   */
  async *read(opts: { follow: boolean; signal?: AbortSignal }): AsyncGenerator<Buffer> {
    let first = true;
    for await (const raw of this.log.read(opts)) {
      if ('caughtUp' in raw || 'dropped' in raw) continue;
      const atStart = first;
      first = false;
      if ('gap' in raw) {
        yield notice(`aegis: this reader fell behind the task's output; ${raw.gap} log file(s) of it were dropped before it read them (task logs keep ${formatByteSize(this.maxBytes)}: limits.taskLog)`);
        continue;
      }
      if (raw.line.startsWith(MARK_PREFIX)) {
        // Only the first file read can have lost what came before it; later marks follow what was read.
        const { before } = JSON.parse(raw.line) as RotationMark;
        if (atStart && before > 0) yield notice(`aegis: the first ${formatByteSize(before)} of this task's output were dropped (task logs keep the newest ${formatByteSize(this.maxBytes)}: limits.taskLog)`);
        continue;
      }
      yield Buffer.from(raw.line + '\n');
    }
  }
}

function notice(text: string): Buffer {
  const entry: LogEntry = { ts: new Date().toISOString(), stream: 'system', text };
  return Buffer.from(JSON.stringify(entry) + '\n');
}
