// The watched directory (`aegis up --watch DIR`, or `watch:` in config.yaml): applied with prune whenever
// a file changes (debounced) and again every interval, which repairs drift made by imperative commands on
// the objects it owns. A directory that fails validation changes nothing: the last good state keeps running.
// The daemon applies it as root for whoever can write there: its manifests read files only inside it and
// only the environment variables the daemon config allows (see load-manifests).
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { isAegisError, type FieldIssue } from '../errors/codes.js';
import type { Store } from '../store/store.js';
import { ConfinedDir } from '../util/confined-dir.js';
import { applyObjects, type ApplyAction } from './apply-objects.js';
import { gitRevision } from './git-revision.js';
import { loadManifests } from './load-manifests.js';
import { MemoryParseCache } from './parse-cache.js';

const DEBOUNCE_MS = 300;

export interface WatchStatus {
  dir: string;
  /** The git commit of the directory's work tree at the last apply, when it is one. */
  revision?: string;
  lastAppliedAt?: string;
  result: 'pending' | 'ok' | 'error';
  message: string;
  issues?: FieldIssue[];
  counts?: Partial<Record<ApplyAction, number>>;
}

export class DirectoryWatcher {
  readonly dir: string;
  private readonly source: string;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private interval: NodeJS.Timeout | undefined;
  private current: WatchStatus;
  /** Unchanged files are not parsed again on each pass (which runs on the daemon's event loop). */
  private readonly parsed = new MemoryParseCache();

  constructor(
    dir: string,
    private readonly store: Store,
    private readonly opts: {
      intervalMs: number;
      log: (msg: string) => void;
      /** Variables `valueFrom.env` may read, and the setting that lists them (for the error). */
      env: { allowed: readonly string[]; setting: string };
    },
  ) {
    this.dir = path.resolve(dir);
    this.source = `file:${this.dir}`;
    this.current = { dir: this.dir, result: 'pending', message: 'not applied yet' };
  }

  get status(): WatchStatus {
    return this.current;
  }

  start(): void {
    this.applyNow();
    // Symlinks are not followed: one to `/` would have the daemon watch the whole filesystem.
    this.watcher = watch(this.dir, { ignoreInitial: true, followSymlinks: false, ignored: (p) => path.basename(p).startsWith('.') && p !== this.dir });
    this.watcher.on('all', () => this.schedule());
    this.interval = setInterval(() => this.applyNow(), this.opts.intervalMs);
    this.interval.unref();
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    clearInterval(this.interval);
    await this.watcher?.close();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    // Editors write a file in several steps (and git checkouts touch many): apply once things settle.
    this.timer = setTimeout(() => this.applyNow(), DEBOUNCE_MS);
  }

  /** Applies the whole directory with prune; never throws (the outcome goes to the status and the log). */
  applyNow(): WatchStatus {
    const revision = gitRevision(this.dir);
    try {
      const confined = { dir: ConfinedDir.of(this.dir), env: this.opts.env };
      let objects: unknown[];
      try {
        objects = loadManifests([this.dir], { recursive: true, env: process.env, confined, cache: this.parsed }).map((l) => l.manifest);
      } finally {
        this.parsed.retainUsed();
      }
      const results = applyObjects(this.store, { source: this.source, objects, prune: true });
      const counts: Partial<Record<ApplyAction, number>> = {};
      for (const r of results) counts[r.action] = (counts[r.action] ?? 0) + 1;
      const changed = results.filter((r) => r.action !== 'unchanged');
      if (changed.length > 0) this.opts.log(`watch ${this.dir}: ${changed.map((r) => `${r.kind.toLowerCase()}/${r.name} ${r.action}`).join(', ')}`);
      this.current = { dir: this.dir, ...(revision ? { revision } : {}), lastAppliedAt: new Date().toISOString(), result: 'ok', message: summary(counts), counts };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.opts.log(`watch ${this.dir}: not applied: ${message}`);
      this.current = {
        ...this.current,
        ...(revision ? { revision } : {}),
        result: 'error',
        message: `${message} (the last good state keeps running)`,
        ...(isAegisError(err) && err.issues.length ? { issues: err.issues } : {}),
      };
    }
    return this.current;
  }
}

function summary(counts: Partial<Record<ApplyAction, number>>): string {
  const parts = (['created', 'configured', 'pruned', 'unchanged'] as const).filter((a) => counts[a]).map((a) => `${counts[a]} ${a}`);
  return parts.length ? parts.join(', ') : 'no objects';
}
