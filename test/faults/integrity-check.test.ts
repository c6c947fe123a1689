// The store invariant the crash scenarios assert (support/crash.ts integrityCheck: PRAGMA integrity_check is
// 'ok') must be able to fail: a real daemon's store, copied, gets one b-tree page damaged the way a torn or
// misdirected write would leave it, and the checker reports it. A checker that always said 'ok' fails here.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTempHome, type TempHome } from '../support/temp-home.js';
import { integrityCheck } from './support/crash.js';

describe('the store integrity check bites', () => {
  let t: TempHome;

  beforeAll(async () => {
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    expect((await t.aegis(['up'])).code).toBe(0);
    // Enough rows that the objects table spans several pages, with indexes over them.
    const dir = fs.mkdtempSync(path.join(t.home, 'deploy-'));
    for (let i = 0; i < 40; i++) {
      const app = `apiVersion: aegis.dev/v1\nkind: App\nmetadata: {name: app-${i}}\nspec:\n  image: 127.0.0.1:9/none:1\n  command: [echo, '${'x'.repeat(400)}']\n`;
      const secret = `apiVersion: aegis.dev/v1\nkind: Secret\nmetadata: {name: secret-${i}}\nspec:\n  app: app-${i}\n  data: {TOKEN: 'v-${i}'}\n`;
      fs.writeFileSync(path.join(dir, `obj-${i}.yaml`), `${app}---\n${secret}`);
    }
    const applied = await t.aegis(['apply', '-f', dir]);
    expect({ code: applied.code, out: applied.stdout + applied.stderr }).toMatchObject({ code: 0 });
    expect((await t.aegis(['down'])).code).toBe(0);
    // Everything into the main file, so a copy of it alone is the whole store.
    const main = new Database(path.join(t.home, 'data', 'aegis.db'));
    main.pragma('wal_checkpoint(TRUNCATE)');
    main.close();
  }, 60_000);

  afterAll(async () => {
    await t?.dispose();
  }, 30_000);

  /** A copy of the store (checkpointed: the file alone holds everything) in a home of its own. */
  const copyStore = (name: string): { home: string; db: string } => {
    const home = path.join(t.home, `copy-${name}`);
    fs.mkdirSync(path.join(home, 'data'), { recursive: true });
    const db = path.join(home, 'data', 'aegis.db');
    fs.copyFileSync(path.join(t.home, 'data', 'aegis.db'), db);
    return { home, db };
  };
  const pageSize = () => (db().pragma('page_size', { simple: true }) as number);
  /** The store's b-tree pages of `name` (a table or index) by kind, from SQLite's own dbstat. */
  const pagesOf = (name: string, pagetype: 'leaf' | 'internal') =>
    (db().prepare('SELECT pageno FROM dbstat WHERE name = ? AND pagetype = ? ORDER BY pageno').all(name, pagetype) as { pageno: number }[]).map((r) => r.pageno);
  let handle: Database.Database | undefined;
  const db = () => (handle ??= new Database(path.join(t.home, 'data', 'aegis.db'), { readonly: true }));
  /** What the checker says; a check that cannot even read the file counts as a report too. */
  const check = (home: string) => {
    try {
      return integrityCheck(home);
    } catch (err) {
      return `threw: ${err instanceof Error ? err.message : String(err)}`;
    }
  };
  const writeAt = (file: string, pageno: number, offset: number, bytes: Buffer) => {
    const fd = fs.openSync(file, 'r+');
    try {
      fs.writeSync(fd, bytes, 0, bytes.length, (pageno - 1) * pageSize() + offset);
    } finally {
      fs.closeSync(fd);
    }
  };

  afterAll(() => handle?.close());

  it('says ok for an intact copy of the store', () => {
    expect(check(copyStore('intact').home)).toBe('ok');
  });

  it('reports a torn write: the second half of a table page zeroed', () => {
    const leaves = pagesOf('resources', 'leaf');
    expect(leaves.length).toBeGreaterThan(2);
    const page = leaves[Math.floor(leaves.length / 2)]!;
    const copy = copyStore('torn');
    writeAt(copy.db, page, pageSize() / 2, Buffer.alloc(pageSize() / 2));
    const report = check(copy.home);
    console.log(`[faults] integrity-check: page ${page} of resources half zeroed: ${report.split('\n').slice(0, 3).join(' | ')}`);
    expect(report).not.toBe('ok');
    expect(report).toMatch(/page|malformed|corrupt|missing|wrong/i);
  });

  it('reports a misdirected write: an index page overwritten with a table page', () => {
    const [index] = pagesOf('sqlite_autoindex_resources_1', 'leaf');
    const [table] = pagesOf('resources', 'leaf');
    const copy = copyStore('misdirected');
    const fd = fs.openSync(copy.db, 'r');
    const content = Buffer.alloc(pageSize());
    fs.readSync(fd, content, 0, content.length, (table! - 1) * pageSize());
    fs.closeSync(fd);
    writeAt(copy.db, index!, 0, content);
    const report = check(copy.home);
    console.log(`[faults] integrity-check: index page ${index} overwritten with table page ${table}: ${report.split('\n').slice(0, 3).join(' | ')}`);
    expect(report).not.toBe('ok');
    expect(report).toMatch(/page|malformed|corrupt|missing|wrong/i);
  });
});
