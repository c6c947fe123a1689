// The desired-state store: resources in SQLite (WAL) with generations, optimistic concurrency and sealed secrets.
import fs from 'node:fs';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import Database from 'better-sqlite3';
import { conflict, invalid, isDiskFull, noSpace, notFound } from '../errors/codes.js';
import { KINDS, kindInfo, validateLabels, validateSpec, validateStatus, type Kind } from '../resources/kinds.js';
import { instanceNameProblem } from '../resources/instance-names.js';
import { isIdFor, newId, validateName } from '../resources/names.js';
import { migrate } from './migrate.js';
import { SecretBox } from './secret-box.js';
import type { StoreEvent, StoredResource } from './stored-resource.js';
import { sealSecretData, revealSecretData } from './secret-data.js';

interface Row {
  seq: number;
  uid: string;
  kind: Kind;
  name: string;
  generation: number;
  resource_version: number;
  created_at: string;
  updated_at: string;
  source: string;
  labels: string;
  finalizers: string;
  deletion_timestamp: string | null;
  spec: string;
  status: string;
}

export interface CreateInput {
  name?: string;
  labels?: Record<string, string>;
  spec: unknown;
  status?: Record<string, unknown>;
  source: string;
  finalizers?: string[];
}

export interface UpdateInput {
  spec?: unknown;
  labels?: Record<string, string>;
  source?: string;
  /** When given, the write is refused unless the stored resourceVersion still equals it. */
  resourceVersion?: number;
}

export interface ListOptions {
  labels?: Record<string, string>;
  source?: string;
}

const emptyStatus = () => ({ conditions: [] as unknown[] });

export class Store {
  private readonly events = new EventEmitter();
  /** Prepared statements by their SQL: preparing is most of a lookup's cost (the router looks up per request). */
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(
    private readonly db: Database.Database,
    private readonly box: SecretBox,
    private readonly file: string,
  ) {
    this.events.setMaxListeners(0);
  }

  static open(dbFile: string, keyFile: string): Store {
    fs.mkdirSync(path.dirname(dbFile), { recursive: true, mode: 0o700 });
    const box = SecretBox.fromKeyFile(keyFile);
    const db = new Database(dbFile);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    migrate(db);
    return new Store(db, box, dbFile);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) this.statements.set(text, (statement = this.db.prepare(text)));
    return statement;
  }

  /** Runs fn in one SQLite transaction: every write in it lands, or none does. Events fire after commit. */
  transaction<T>(fn: () => T): T {
    const pending: StoreEvent[] = [];
    this.pendingEvents.push(pending);
    try {
      const result = this.db.transaction(fn)();
      this.pendingEvents.pop();
      this.flush(pending);
      return result;
    } catch (e) {
      this.pendingEvents.pop();
      // SQLite rolled the transaction back: nothing of it is stored. Say what could not be written, and where.
      if (isDiskFull(e)) throw noSpace(`no space left on device: could not write ${describeWrites(pending)} to the store (${this.file}); free some space and retry`);
      throw e;
    }
  }

  onChange(listener: (event: StoreEvent) => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  /** Looks a resource up by name or by uid. */
  get<S = Record<string, unknown>, T = Record<string, unknown>>(kind: Kind, nameOrId: string): StoredResource<S, T> | undefined {
    const row = isIdFor(kind, nameOrId)
      ? (this.sql('SELECT * FROM resources WHERE kind = ? AND (uid = ? OR name = ?)').get(kind, nameOrId, nameOrId) as Row | undefined)
      : (this.sql('SELECT * FROM resources WHERE kind = ? AND name = ?').get(kind, nameOrId) as Row | undefined);
    return row ? (toResource(row) as StoredResource<S, T>) : undefined;
  }

  mustGet<S = Record<string, unknown>, T = Record<string, unknown>>(kind: Kind, nameOrId: string): StoredResource<S, T> {
    const r = this.get<S, T>(kind, nameOrId);
    if (!r) throw notFound(`${kindInfo[kind].singular} "${nameOrId}" not found`);
    return r;
  }

  /** All resources of a kind in creation order, optionally filtered by labels (all must match) and source. */
  list<S = Record<string, unknown>, T = Record<string, unknown>>(kind: Kind, opts: ListOptions = {}): StoredResource<S, T>[] {
    const rows = (
      opts.source === undefined
        ? this.sql('SELECT * FROM resources WHERE kind = ? ORDER BY seq').all(kind)
        : this.sql('SELECT * FROM resources WHERE kind = ? AND source = ? ORDER BY seq').all(kind, opts.source)
    ) as Row[];
    const out = rows.map((r) => toResource(r) as StoredResource<S, T>);
    const want = Object.entries(opts.labels ?? {});
    return want.length === 0 ? out : out.filter((r) => want.every(([k, v]) => r.metadata.labels[k] === v));
  }

  counts(): Record<Kind, number> {
    const rows = this.sql('SELECT kind, count(*) AS n FROM resources GROUP BY kind').all() as { kind: Kind; n: number }[];
    const out = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
    for (const r of rows) out[r.kind] = r.n;
    return out;
  }

  create<S = Record<string, unknown>, T = Record<string, unknown>>(kind: Kind, input: CreateInput): StoredResource<S, T> {
    return this.transaction(() => {
      const uid = newId(kind);
      const name = input.name ?? uid;
      validateName(name, `${kindInfo[kind].singular} name`);
      if (this.get(kind, name)) throw conflict(`${kindInfo[kind].singular} "${name}" already exists`);
      const labels = validateLabels(input.labels ?? {});
      let spec = validateSpec(kind, input.spec) as Record<string, unknown>;
      if (kind === 'Instance') this.checkInstanceName(name, spec);
      if (kind === 'Secret') spec = sealSecretData(this.box, name, spec, undefined);
      if (input.status) validateStatus(kind, input.status);
      const now = new Date().toISOString();
      const rv = this.nextRevision();
      this
        .sql(
          `INSERT INTO resources (uid, kind, name, generation, resource_version, created_at, updated_at, source, labels, finalizers, spec, status)
           VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(uid, kind, name, rv, now, now, input.source, JSON.stringify(labels), JSON.stringify(input.finalizers ?? []),
          JSON.stringify(spec), JSON.stringify(input.status ?? emptyStatus()));
      this.emit({ type: 'created', kind, name, uid });
      return this.mustGet<S, T>(kind, name);
    });
  }

  /** Replaces spec and/or labels. Generation moves only when the spec really changed; a no-op writes nothing. */
  update<S = Record<string, unknown>, T = Record<string, unknown>>(kind: Kind, nameOrId: string, input: UpdateInput): StoredResource<S, T> {
    return this.transaction(() => {
      const cur = this.mustGet(kind, nameOrId);
      checkVersion(cur, input.resourceVersion);
      if (cur.metadata.deletionTimestamp) throw conflict(`${kindInfo[kind].singular} "${cur.metadata.name}" is being deleted`);
      let spec = cur.spec;
      if (input.spec !== undefined) {
        spec = validateSpec(kind, input.spec) as Record<string, unknown>;
        if (kind === 'Instance') this.checkInstanceName(cur.metadata.name, spec);
        if (kind === 'Secret') spec = sealSecretData(this.box, cur.metadata.name, spec, cur.spec);
      }
      const specChanged = JSON.stringify(spec) !== JSON.stringify(cur.spec);
      const labels = input.labels === undefined ? cur.metadata.labels : validateLabels(input.labels);
      const source = input.source ?? cur.metadata.source;
      const labelsChanged = JSON.stringify(labels) !== JSON.stringify(cur.metadata.labels);
      if (!specChanged && !labelsChanged && source === cur.metadata.source) return cur as StoredResource<S, T>;
      this
        .sql('UPDATE resources SET spec = ?, labels = ?, source = ?, generation = ?, resource_version = ?, updated_at = ? WHERE uid = ?')
        .run(JSON.stringify(spec), JSON.stringify(labels), source, cur.metadata.generation + (specChanged ? 1 : 0), this.nextRevision(),
          new Date().toISOString(), cur.metadata.uid);
      this.emit({ type: 'updated', kind, name: cur.metadata.name, uid: cur.metadata.uid, change: specChanged ? 'spec' : 'metadata' });
      return this.mustGet<S, T>(kind, cur.metadata.uid);
    });
  }

  /**
   * Writes status (controllers only). A status its kind's schema refuses is a controller's bug: it is
   * refused (AEGIS_INVALID naming the fields) before anything is stored. Identical status is not written,
   * so resyncs cause no churn.
   */
  updateStatus<T = Record<string, unknown>>(kind: Kind, nameOrId: string, status: T, resourceVersion?: number): StoredResource<Record<string, unknown>, T> {
    validateStatus(kind, status);
    return this.transaction(() => {
      const cur = this.mustGet<Record<string, unknown>, T>(kind, nameOrId);
      checkVersion(cur as StoredResource, resourceVersion);
      if (JSON.stringify(status) === JSON.stringify(cur.status)) return cur;
      this
        .sql('UPDATE resources SET status = ?, resource_version = ?, updated_at = ? WHERE uid = ?')
        .run(JSON.stringify(status), this.nextRevision(), new Date().toISOString(), cur.metadata.uid);
      this.emit({ type: 'updated', kind, name: cur.metadata.name, uid: cur.metadata.uid, change: 'status' });
      return this.mustGet(kind, cur.metadata.uid);
    });
  }

  /**
   * Deletes a resource. With finalizers pending it is only marked (deletionTimestamp) and its controller
   * finishes the job by removing them; `force` skips finalizers for a backend that cannot answer.
   */
  delete(kind: Kind, nameOrId: string, opts: { resourceVersion?: number; force?: boolean } = {}): 'deleted' | 'terminating' {
    return this.transaction(() => {
      const cur = this.mustGet(kind, nameOrId);
      checkVersion(cur, opts.resourceVersion);
      if (cur.metadata.finalizers.length > 0 && !opts.force) {
        if (!cur.metadata.deletionTimestamp) {
          this
            .sql('UPDATE resources SET deletion_timestamp = ?, resource_version = ? WHERE uid = ?')
            .run(new Date().toISOString(), this.nextRevision(), cur.metadata.uid);
          this.emit({ type: 'updated', kind, name: cur.metadata.name, uid: cur.metadata.uid, change: 'metadata' });
        }
        return 'terminating';
      }
      this.hardDelete(cur);
      return 'deleted';
    });
  }

  addFinalizer(kind: Kind, nameOrId: string, finalizer: string): void {
    this.setFinalizers(kind, nameOrId, (f) => (f.includes(finalizer) ? f : [...f, finalizer]));
  }

  /** Removes a finalizer; the last one going away completes a pending deletion. */
  removeFinalizer(kind: Kind, nameOrId: string, finalizer: string): void {
    this.setFinalizers(kind, nameOrId, (f) => f.filter((x) => x !== finalizer));
  }

  /** The plaintext values of a Secret, for a guest's environment only: never for replies or logs. */
  revealSecret(nameOrId: string): Record<string, string> {
    const s = this.mustGet('Secret', nameOrId);
    return revealSecretData(this.box, s.metadata.name, s.spec);
  }

  // Every writer (apply, a watched directory, the resources API) passes here, so no path can squat an app's name.
  private checkInstanceName(name: string, spec: Record<string, unknown>): void {
    const problem = instanceNameProblem(name, spec.app as string | undefined, (app) => this.get('App', app)?.metadata.name === app);
    if (problem) throw conflict(problem);
  }

  private setFinalizers(kind: Kind, nameOrId: string, change: (f: string[]) => string[]): void {
    this.transaction(() => {
      const cur = this.get(kind, nameOrId);
      if (!cur) return;
      const next = change(cur.metadata.finalizers);
      if (JSON.stringify(next) === JSON.stringify(cur.metadata.finalizers)) return;
      if (next.length === 0 && cur.metadata.deletionTimestamp) return this.hardDelete(cur);
      this
        .sql('UPDATE resources SET finalizers = ?, resource_version = ? WHERE uid = ?')
        .run(JSON.stringify(next), this.nextRevision(), cur.metadata.uid);
      this.emit({ type: 'updated', kind, name: cur.metadata.name, uid: cur.metadata.uid, change: 'metadata' });
    });
  }

  private hardDelete(cur: StoredResource): void {
    this.sql('DELETE FROM resources WHERE uid = ?').run(cur.metadata.uid);
    this.nextRevision();
    this.emit({ type: 'deleted', kind: cur.kind, name: cur.metadata.name, uid: cur.metadata.uid });
  }

  private nextRevision(): number {
    return (this.sql('UPDATE revision SET value = value + 1 WHERE id = 1 RETURNING value').get() as { value: number }).value;
  }

  // Events raised inside a transaction are held until it commits, so listeners never see rolled-back writes.
  private readonly pendingEvents: StoreEvent[][] = [];

  private emit(event: StoreEvent): void {
    const top = this.pendingEvents[this.pendingEvents.length - 1];
    if (top) top.push(event);
    else this.flush([event]);
  }

  private flush(events: StoreEvent[]): void {
    if (this.pendingEvents.length > 0) {
      this.pendingEvents[this.pendingEvents.length - 1].push(...events);
      return;
    }
    for (const e of events) this.events.emit('change', e);
  }
}

function checkVersion(cur: StoredResource, expected: number | undefined): void {
  // From an API body it may be anything: a string is a bad request, not a conflict (and is not echoed back).
  if (expected !== undefined && !Number.isSafeInteger(expected)) {
    throw invalid('metadata.resourceVersion must be an integer', [{ path: 'metadata.resourceVersion', message: 'must be an integer' }]);
  }
  if (expected !== undefined && expected !== cur.metadata.resourceVersion) {
    throw conflict(
      `${kindInfo[cur.kind].singular} "${cur.metadata.name}" was modified (resourceVersion ${cur.metadata.resourceVersion}, you sent ${expected}); read it again and retry`,
    );
  }
}

function toResource(row: Row): StoredResource {
  return {
    apiVersion: 'aegis.dev/v1',
    kind: row.kind,
    metadata: {
      name: row.name,
      uid: row.uid,
      labels: JSON.parse(row.labels),
      generation: row.generation,
      resourceVersion: row.resource_version,
      sequence: row.seq,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      source: row.source,
      finalizers: JSON.parse(row.finalizers),
      ...(row.deletion_timestamp ? { deletionTimestamp: row.deletion_timestamp } : {}),
    },
    spec: JSON.parse(row.spec),
    status: JSON.parse(row.status),
  };
}

/** The resources a transaction wrote, for an error: `app "web"`, or the first three and how many more. */
function describeWrites(events: StoreEvent[]): string {
  const names = [...new Set(events.map((e) => `${kindInfo[e.kind as Kind]?.singular ?? e.kind} "${e.name}"`))];
  if (names.length === 0) return 'a change';
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}
