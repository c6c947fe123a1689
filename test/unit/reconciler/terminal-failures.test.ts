// A reconcile that throws a TerminalError marks its object failed with the reason and is not run again for
// that object (events, resyncs) until its spec changes, it is being deleted, or a new object takes the name.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aegisPaths } from '../../../src/config/paths.js';
import { TerminalError } from '../../../src/errors/terminal-error.js';
import { stopOnTerminal } from '../../../src/reconciler/terminal-failures.js';
import { Store } from '../../../src/store/store.js';

describe('stopOnTerminal', () => {
  let home: string;
  let store: Store;
  let runs: string[];
  let fail: boolean;
  const ctx = { signal: new AbortController().signal, failures: 0 };

  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-terminal-'));
    const paths = aegisPaths({ AEGIS_HOME: home });
    store = Store.open(paths.db, paths.keyFile);
    runs = [];
    fail = true;
  });
  afterEach(() => {
    store.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const app = (command: string[]) => ({ name: 'web', spec: { image: 'busybox:1.36', command }, source: 'test' });

  it('marks the object failed with the reason, then skips it until its spec changes', async () => {
    const wrapped = stopOnTerminal(store, 'App', async (name) => {
      runs.push(name);
      if (fail) throw new TerminalError('the kit "gone" is not installed', { reason: 'KitNotFound' });
    });
    store.create('App', app(['true']));
    expect(await wrapped('web', ctx).catch((e: unknown) => e)).toBeInstanceOf(TerminalError);
    const status = store.mustGet<Record<string, unknown>, { observedGeneration: number; conditions: { type: string; status: string; reason: string; message: string }[] }>('App', 'web').status;
    expect(status.observedGeneration).toBe(1);
    expect(status.conditions).toEqual([expect.objectContaining({ type: 'Ready', status: 'False', reason: 'KitNotFound', message: 'the kit "gone" is not installed' })]);

    // Events and resyncs of the same generation do not run it again (a label is no spec change either).
    await wrapped('web', ctx);
    store.update('App', 'web', { labels: { team: 'a' } });
    await wrapped('web', ctx);
    expect(runs).toEqual(['web']);

    // The spec is edited: it runs again, and once it succeeds nothing is skipped any more.
    store.update('App', 'web', { spec: app(['sleep', '1']).spec });
    fail = false;
    await wrapped('web', ctx);
    await wrapped('web', ctx);
    expect(runs).toEqual(['web', 'web', 'web']);
  });

  it('still runs an object being deleted, and a new object of the same name', async () => {
    const wrapped = stopOnTerminal(store, 'App', async (name) => {
      runs.push(name);
      if (fail) throw new TerminalError('no', { reason: 'InvalidSpec' });
    });
    store.create('App', { ...app(['true']), finalizers: ['aegis.dev/test'] });
    await wrapped('web', ctx).catch(() => undefined);
    await wrapped('web', ctx);
    expect(runs).toHaveLength(1);
    store.delete('App', 'web');
    await wrapped('web', ctx).catch(() => undefined);
    expect(runs).toHaveLength(2);
    store.removeFinalizer('App', store.mustGet('App', 'web').metadata.uid, 'aegis.dev/test');
    expect(store.get('App', 'web')).toBeUndefined();
    store.create('App', app(['true']));
    await wrapped('web', ctx).catch(() => undefined);
    expect(runs).toHaveLength(3);
  });
});
