// The resource store: metadata rules, optimistic concurrency across connections, finalizers, events, sealing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store } from '../../../src/store/store.js';
import type { StoreEvent } from '../../../src/store/stored-resource.js';

const appSpec = (port = 80) => ({ image: 'busybox:1.36', command: ['httpd', '-f'], expose: [port] });

describe('Store', () => {
  let dir: string;
  let store: Store;
  const open = () => Store.open(path.join(dir, 'data', 'aegis.db'), path.join(dir, 'secret.key'));
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-store-'));
    store = open();
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates with server metadata and finds by name or uid', () => {
    const r = store.create('App', { name: 'web', spec: appSpec(), source: 'cli', labels: { team: 'a' } });
    expect(r.metadata).toMatchObject({ name: 'web', generation: 1, source: 'cli', labels: { team: 'a' }, finalizers: [] });
    expect(r.status).toEqual({ conditions: [] });
    expect(store.get('App', r.metadata.uid)?.metadata.name).toBe('web');
    expect(store.get('App', 'other')).toBeUndefined();
    expect(store.list('App', { labels: { team: 'b' } })).toEqual([]);
    expect(store.list('App', { labels: { team: 'a' } })).toHaveLength(1);
  });

  it('orders by a sequence, not by timestamps', () => {
    for (const n of ['c', 'a', 'b']) store.create('App', { name: n, spec: appSpec(), source: 'cli' });
    const seqs = store.list('App').map((r) => [r.metadata.name, r.metadata.sequence] as const);
    expect(seqs.map(([n]) => n)).toEqual(['c', 'a', 'b']);
    expect(seqs[0][1]).toBeLessThan(seqs[1][1]);
    expect(seqs[1][1]).toBeLessThan(seqs[2][1]);
  });

  it('moves generation on spec change only; a no-op write changes nothing', () => {
    const r = store.create('App', { name: 'web', spec: appSpec(), source: 'cli' });
    const same = store.update('App', 'web', { spec: appSpec() });
    expect(same.metadata.resourceVersion).toBe(r.metadata.resourceVersion);
    const labelled = store.update('App', 'web', { labels: { x: 'y' } });
    expect(labelled.metadata).toMatchObject({ generation: 1 });
    expect(labelled.metadata.resourceVersion).toBeGreaterThan(r.metadata.resourceVersion);
    const changed = store.update('App', 'web', { spec: appSpec(81) });
    expect(changed.metadata.generation).toBe(2);
    const status = store.updateStatus('App', 'web', { conditions: [], observedGeneration: 2 });
    expect(status.metadata.generation).toBe(2);
    const again = store.updateStatus('App', 'web', { conditions: [], observedGeneration: 2 });
    expect(again.metadata.resourceVersion).toBe(status.metadata.resourceVersion);
  });

  it('refuses a stale resourceVersion from another connection and keeps the winner', () => {
    const other = open();
    try {
      const r = store.create('App', { name: 'web', spec: appSpec(), source: 'cli' });
      const rv = r.metadata.resourceVersion;
      other.update('App', 'web', { spec: appSpec(81), resourceVersion: rv });
      expect(() => store.update('App', 'web', { spec: appSpec(82), resourceVersion: rv })).toThrow(/was modified/);
      expect(store.get('App', 'web')!.spec.expose).toEqual([81]);
    } finally {
      other.close();
    }
  });

  it('rolls back a failed transaction whole and emits no events for it', () => {
    const events: StoreEvent[] = [];
    store.onChange((e) => events.push(e));
    expect(() =>
      store.transaction(() => {
        store.create('App', { name: 'a', spec: appSpec(), source: 'cli' });
        store.create('App', { name: 'a', spec: appSpec(), source: 'cli' }); // duplicate: conflict
      }),
    ).toThrow(/already exists/);
    expect(store.list('App')).toEqual([]);
    expect(events).toEqual([]);
    store.transaction(() => store.create('App', { name: 'b', spec: appSpec(), source: 'cli' }));
    expect(events).toEqual([expect.objectContaining({ type: 'created', kind: 'App', name: 'b' })]);
  });

  it('says what each update wrote: the spec, metadata only, or status only', () => {
    const events: StoreEvent[] = [];
    store.onChange((e) => events.push(e));
    store.create('App', { name: 'web', spec: appSpec(), source: 'cli', finalizers: ['aegis.dev/x'] });
    store.update('App', 'web', { spec: appSpec(81) });
    store.update('App', 'web', { labels: { team: 'a' } });
    store.updateStatus('App', 'web', { conditions: [], observedGeneration: 2 });
    store.delete('App', 'web');
    store.removeFinalizer('App', 'web', 'aegis.dev/x');
    expect(events.map((e) => [e.type, e.change])).toEqual([
      ['created', undefined],
      ['updated', 'spec'],
      ['updated', 'metadata'],
      ['updated', 'status'],
      ['updated', 'metadata'],
      ['deleted', undefined],
    ]);
  });

  it("refuses a status its kind's schema does not allow, writing nothing", () => {
    store.create('Instance', { name: 'web', spec: { command: ['x'], expose: [80] }, source: 'cli' });
    const before = store.get('Instance', 'web')!;
    expect(() => store.updateStatus('Instance', 'web', { conditions: [], state: 'sleeping', colour: 'red' })).toThrow(/invalid instance status/);
    expect(store.get('Instance', 'web')).toEqual(before);
    expect(() => store.create('Release', { spec: { app: 'web', image: 'busybox:1' }, status: { phase: 'Done' }, source: 'cli' })).toThrow(/invalid release status/);
    expect(store.list('Release')).toEqual([]);
  });

  it('holds a deletion until finalizers are gone; force skips them', () => {
    store.create('App', { name: 'web', spec: appSpec(), source: 'cli', finalizers: ['aegis.dev/x'] });
    expect(store.delete('App', 'web')).toBe('terminating');
    const marked = store.get('App', 'web')!;
    expect(marked.metadata.deletionTimestamp).toBeTruthy();
    expect(() => store.update('App', 'web', { spec: appSpec(81) })).toThrow(/being deleted/);
    store.removeFinalizer('App', 'web', 'aegis.dev/x');
    expect(store.get('App', 'web')).toBeUndefined();
    store.create('App', { name: 'web2', spec: appSpec(), source: 'cli', finalizers: ['aegis.dev/x'] });
    expect(store.delete('App', 'web2', { force: true })).toBe('deleted');
  });

  it('seals secret values: the database file never holds the plaintext, re-applying the same value is a no-op', () => {
    const s = store.create('Secret', { name: 'web-secrets', spec: { app: 'web', data: { API_KEY: 'sk-plaintext-value' } }, source: 'cli' });
    expect(JSON.stringify(s)).not.toContain('sk-plaintext-value');
    const again = store.update('Secret', 'web-secrets', { spec: { app: 'web', data: { API_KEY: 'sk-plaintext-value' } } });
    expect(again.metadata.generation).toBe(1);
    const rotated = store.update('Secret', 'web-secrets', { spec: { app: 'web', data: { API_KEY: 'sk-rotated' } } });
    expect(rotated.metadata.generation).toBe(2);
    expect(store.revealSecret('web-secrets')).toEqual({ API_KEY: 'sk-rotated' });
    store.close();
    for (const f of fs.readdirSync(path.join(dir, 'data'))) {
      const bytes = fs.readFileSync(path.join(dir, 'data', f));
      expect(bytes.includes('sk-plaintext-value')).toBe(false);
      expect(bytes.includes('sk-rotated')).toBe(false);
    }
    store = open();
    expect(store.revealSecret('web-secrets')).toEqual({ API_KEY: 'sk-rotated' });
  });

  it('counts resources per kind', () => {
    store.create('App', { name: 'a', spec: appSpec(), source: 'cli' });
    expect(store.counts()).toMatchObject({ App: 1, Kit: 0, Task: 0 });
  });
});
