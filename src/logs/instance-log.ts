// The logs of serving instances: one rotated NDJSON file set per instance under data/logs/, one entry per line.
import fs from 'node:fs';
import path from 'node:path';
import type { InstanceLogEntry, InstanceLogStream, LogSource } from './instance-log-entry.js';
import { parseEntry } from './instance-log-entry.js';
import { LineSplitter } from './line-splitter.js';
import { RotatingLog } from './rotating-log.js';
import { formatByteSize } from '../resources/byte-size.js';
import type { SecretMasker } from './secret-masker.js';

export type { InstanceLogEntry, InstanceLogStream, LogSource } from './instance-log-entry.js';

export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_KEEP_FILES = 3;

export interface InstanceLogsOptions {
  /** Size of the current file at which it is rotated. */
  maxBytes?: number;
  /** Rotated files kept besides the current one (`.1` newest … `.N` oldest). */
  keepFiles?: number;
  /** Masks secret values in what is written (see SecretMasks); absent: nothing is masked. */
  masks?: { masker(app: string): SecretMasker };
}

export interface ReadOptions {
  follow?: boolean;
  /** Only the last N matching entries of the history (live entries all follow). */
  tail?: number;
  since?: Date;
  source?: LogSource[];
  signal?: AbortSignal;
}

// Instance keys become file names: keep them to id-like names so no key can point outside the directory.
const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

export class InstanceLogs {
  private readonly logs = new Map<string, RotatingLog>();
  private readonly maxBytes: number;
  private readonly keepFiles: number;
  private readonly masks: InstanceLogsOptions['masks'];

  constructor(
    private readonly dir: string,
    opts: InstanceLogsOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.keepFiles = opts.keepFiles ?? DEFAULT_KEEP_FILES;
    this.masks = opts.masks;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private log(instance: string): RotatingLog {
    if (!KEY_PATTERN.test(instance)) throw new Error(`invalid instance log key ${JSON.stringify(instance)}`);
    let log = this.logs.get(instance);
    if (!log) {
      // Lines counted, so that what rotation drops is told to readers, never lost silently.
      log = new RotatingLog(path.join(this.dir, `${instance}.ndjson`), { maxBytes: this.maxBytes, keepFiles: this.keepFiles }, { countLines: true });
      this.logs.set(instance, log);
    }
    return log;
  }

  /** A writer for one producer (the boot console, the server process, an exec); several may share an instance. */
  writer(instance: string, app: string): InstanceLogWriter {
    const masks = this.masks;
    return new InstanceLogWriter(this.log(instance), instance, app, masks ? () => masks.masker(app) : undefined);
  }

  /** Readers currently following an instance: the idle timer counts them as activity. */
  followers(instance: string): number {
    return this.logs.get(instance)?.followerCount ?? 0;
  }

  async *read(instance: string, opts: ReadOptions = {}): AsyncGenerator<InstanceLogEntry> {
    const log = this.log(instance);
    const since = opts.since?.getTime();
    const sources = opts.source && opts.source.length > 0 ? new Set(opts.source) : undefined;
    const wanted = (e: InstanceLogEntry) => (sources === undefined || sources.has(e.source)) && (since === undefined || Date.parse(e.ts) >= since);
    const tail = opts.tail;
    // With tail, history is held back (at most `tail` entries) until the reader has caught up with the writer.
    let held: InstanceLogEntry[] | undefined = tail !== undefined ? [] : undefined;
    for await (const raw of log.read({ follow: opts.follow === true, signal: opts.signal})) {
      let entry: InstanceLogEntry | undefined;
      if ('gap' in raw) {
        entry = gapEntry(instance, raw.gap);
      } else if ('dropped' in raw) {
        entry = droppedEntry(instance, raw.dropped, this.maxBytes * (this.keepFiles + 1));
      } else if ('caughtUp' in raw) {
        if (held) yield* held.splice(0);
        held = undefined;
        continue;
      } else {
        entry = parseEntry(raw.line);
        if (!entry || !wanted(entry)) continue;
      }
      if (held) {
        held.push(entry);
        if (held.length > tail!) held.shift();
      } else {
        yield entry;
      }
    }
    if (held) yield* held;
  }

  /** Deletes an instance's logs and ends its followers (the instance is gone). */
  remove(instance: string): void {
    this.log(instance).remove();
    this.logs.delete(instance);
  }

  /** Closes every open file (daemon shutdown); writers reopen on their next line. */
  close(): void {
    for (const log of this.logs.values()) log.close();
  }
}

/** A line Aegis itself writes into an instance's log. */
function systemEntry(instance: string, line: string): InstanceLogEntry {
  return { ts: new Date().toISOString(), stream: 'system', source: 'system', instance, app: '', line };
}

function droppedEntry(instance: string, lines: number, keptBytes: number): InstanceLogEntry {
  return systemEntry(
    instance,
    `aegis: the first ${lines} line${lines === 1 ? '' : 's'} of this instance's log ${lines === 1 ? 'was' : 'were'} dropped (instance logs keep the newest ${formatByteSize(keptBytes)}: limits.instanceLog)`,
  );
}

function gapEntry(instance: string, files: number): InstanceLogEntry {
  return systemEntry(instance, `aegis: this reader fell ${files} log file(s) behind; their lines were rotated away before it read them`);
}

/**
 * Turns output chunks into entries: one per line, a partial line held per (stream, source, exec) until its end
 * arrives or flush(). Secret values become `***` first (a value split across chunks too). Invalid UTF-8
 * becomes U+FFFD; nothing else is dropped.
 */
export class InstanceLogWriter {
  private readonly partial = new Map<string, { stream: InstanceLogStream; source: LogSource; execId?: string; mask?: SecretMasker; lines: LineSplitter }>();
  private closed = false;
  /** Lines this writer could not append, and the error that stopped them. */
  private unwritten = { lines: 0, why: '' };

  constructor(
    private readonly log: RotatingLog,
    readonly instance: string,
    readonly app: string,
    /** A masker for one more output stream; absent: nothing is masked. */
    private readonly masker?: () => SecretMasker,
  ) {}

  write(stream: InstanceLogStream, source: LogSource, chunk: Buffer, execId?: string): void {
    if (this.closed) return;
    const key = `${stream}\0${source}\0${execId ?? ''}`;
    let p = this.partial.get(key);
    if (!p) {
      p = { stream, source, execId, ...(this.masker ? { mask: this.masker() } : {}), lines: new LineSplitter() };
      this.partial.set(key, p);
    }
    this.append(stream, source, execId, p.lines.push(p.mask ? p.mask.push(chunk) : chunk));
    // Forget finished execs' splitters so a long-lived server with many execs does not accumulate them.
    if (!p.lines.hasPending && !p.mask?.hasPending) this.partial.delete(key);
  }

  /** A masker with the values this log masks, for a copy of the output that goes elsewhere (a masked exec's reply). */
  outputMasker(): SecretMasker | undefined {
    return this.masker?.();
  }

  /** A line from aegis itself (process exits, restarts, backoff), one entry per line of `message`. */
  system(message: string): void {
    if (this.closed) return;
    const mask = this.masker?.();
    const text = mask ? Buffer.concat([mask.push(Buffer.from(message)), mask.flush()]).toString('utf8') : message;
    const lines = text.replace(/\n$/, '').split('\n').map((l) => Buffer.from(l));
    this.append('system', 'system', undefined, lines);
  }

  /** Writes out every held partial line. */
  flush(): void {
    for (const [key, p] of this.partial) {
      if (p.mask) this.append(p.stream, p.source, p.execId, p.lines.push(p.mask.flush()));
      this.append(p.stream, p.source, p.execId, p.lines.flush());
      this.partial.delete(key);
    }
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }

  private append(stream: InstanceLogStream, source: LogSource, execId: string | undefined, lines: Buffer[]): void {
    if (lines.length === 0) return;
    const ts = new Date().toISOString();
    const record = (stream: InstanceLogStream, source: LogSource, line: string) => {
      const entry: InstanceLogEntry = { ts, stream, source, instance: this.instance, app: this.app, ...(execId !== undefined ? { exec_id: execId } : {}), line };
      return Buffer.from(JSON.stringify(entry) + '\n');
    };
    const records = lines.map((l) => record(stream, source, l.toString('utf8')));
    // Lines lost to a failed write (a full disk) are counted in the first line written after it.
    if (this.unwritten.lines > 0) records.unshift(record('system', 'system', `aegis: ${this.unwritten.lines} line(s) of output could not be written to this log (${this.unwritten.why})`));
    try {
      this.log.append(records);
      this.unwritten = { lines: 0, why: '' };
    } catch (err) {
      // The machine's output must not take the daemon down: count what was lost, and say so once writes work again.
      this.unwritten = { lines: this.unwritten.lines + lines.length, why: err instanceof Error ? err.message : String(err) };
      this.log.close();
    }
  }
}
