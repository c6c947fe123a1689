// Shared helpers for benchmarks: timing, percentiles, a temp AEGIS_HOME with a running daemon.
import { spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const AEGIS = path.join(ROOT, 'bin', 'aegis');

export function percentile(samples, p) {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export const round = (x) => Math.round(x * 100) / 100;

/** Wall time in ms of a synchronous child run; throws when it fails. */
export function timeRun(cmd, args, opts = {}) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

export function withDaemon(fn, extraEnv = {}) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-bench-'));
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, AEGIS_HOME: home, ...extraEnv };
  execFileSync(AEGIS, ['up'], { env });
  try {
    return fn({ home, env });
  } finally {
    execFileSync(AEGIS, ['down'], { env });
    fs.rmSync(home, { recursive: true, force: true });
  }
}

export function report(result) {
  process.stdout.write(JSON.stringify(result) + '\n');
}
