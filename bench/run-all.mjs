// `npm run bench`: runs every benchmark script in this folder and prints one JSON document with all figures.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const scripts = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.mjs') && !['run-all.mjs', 'lib.mjs'].includes(f))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)));

const results = [];
for (const script of scripts) {
  const r = spawnSync(process.execPath, [path.join(dir, script)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = r.stdout.trim().split('\n').filter(Boolean);
  if (r.status !== 0 || lines.length === 0) {
    results.push({ name: script.replace(/\.mjs$/, ''), error: `exit ${r.status}` });
    continue;
  }
  for (const line of lines) results.push(JSON.parse(line));
}
process.stdout.write(JSON.stringify({ date: new Date().toISOString(), host: { cpus: (await import('node:os')).cpus().length }, results }, null, 2) + '\n');
