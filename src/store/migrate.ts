// Applies pending schema migrations inside one transaction each, tracked by SQLite's user_version.
import type Database from 'better-sqlite3';
import { migrations as all, type Migration } from './migrations/index.js';

export function migrate(db: Database.Database, migrations: Migration[] = all): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  const newest = migrations.reduce((max, m) => Math.max(max, m.version), 0);
  if (current > newest) {
    throw new Error(`database schema version ${current} is newer than this aegis (${newest}); upgrade aegis`);
  }
  let applied = 0;
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
    applied++;
  }
  return applied;
}
