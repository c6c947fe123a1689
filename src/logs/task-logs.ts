// The log of every task, one NDJSON file set each under data/logs/, shared by the task's runner and its readers.
import fs from 'node:fs';
import path from 'node:path';
import { TaskLog } from './task-log.js';

export class TaskLogs {
  private readonly open = new Map<string, TaskLog>();

  constructor(
    private readonly dir: string,
    /** The most one task's log keeps (`limits.taskLog`). */
    private readonly maxBytes: number,
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private fileOf(uid: string): string {
    return path.join(this.dir, `${uid}.ndjson`);
  }

  /** The live log of a task this daemon runs (created on first use), or the finished log of an earlier daemon. */
  get(uid: string): TaskLog {
    let log = this.open.get(uid);
    if (!log) {
      const earlier = fs.existsSync(this.fileOf(uid));
      log = new TaskLog(this.fileOf(uid), this.maxBytes);
      if (earlier) log.close();
      this.open.set(uid, log);
    }
    return log;
  }

  remove(uid: string): void {
    this.get(uid).remove();
    this.open.delete(uid);
  }
}
