// The log of every task, one NDJSON file each under data/logs/, shared by the task's runner and its readers.
import fs from 'node:fs';
import path from 'node:path';
import { LogFile } from './log-file.js';

export class TaskLogs {
  private readonly open = new Map<string, LogFile>();

  constructor(private readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private fileOf(uid: string): string {
    return path.join(this.dir, `${uid}.ndjson`);
  }

  /** The live log of a task this daemon runs (created on first use), or the finished file of an earlier daemon. */
  get(uid: string): LogFile {
    let log = this.open.get(uid);
    if (!log) {
      log = LogFile.openExisting(this.fileOf(uid)) ?? new LogFile(this.fileOf(uid));
      this.open.set(uid, log);
    }
    return log;
  }

  remove(uid: string): void {
    this.open.get(uid)?.close();
    this.open.delete(uid);
    fs.rmSync(this.fileOf(uid), { force: true });
  }
}
