import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../../src/store/migrate.js';
import { migrations } from '../../../src/store/migrations/index.js';

describe('migrate', () => {
  it('applies every migration once and records the version', () => {
    const db = new Database(':memory:');
    expect(migrate(db)).toBe(migrations.length);
    expect(db.pragma('user_version', { simple: true })).toBe(migrations[migrations.length - 1].version);
    expect(migrate(db)).toBe(0);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'resources'").get()).toBeTruthy();
  });

  it('applies only the pending ones, in order, each in its own transaction', () => {
    const db = new Database(':memory:');
    const steps = [
      { version: 1, name: 'a', sql: 'CREATE TABLE t (x INTEGER);' },
      { version: 2, name: 'b', sql: 'INSERT INTO t VALUES (2);' },
    ];
    expect(migrate(db, [steps[0]])).toBe(1);
    expect(migrate(db, steps)).toBe(1);
    expect(db.prepare('SELECT x FROM t').all()).toEqual([{ x: 2 }]);
    const broken = [...steps, { version: 3, name: 'c', sql: 'INSERT INTO t VALUES (3); SELECT nope FROM nowhere;' }];
    expect(() => migrate(db, broken)).toThrow();
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 1 });
  });

  it('refuses a database from a newer aegis', () => {
    const db = new Database(':memory:');
    db.pragma('user_version = 99');
    expect(() => migrate(db)).toThrow(/newer than this aegis/);
  });
});
