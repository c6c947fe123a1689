// Shared helpers for benchmarks: timing, percentiles, a temp AEGIS_HOME with a running daemon.
import { spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
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

/** A daemon in a temp AEGIS_HOME (config.yaml written first), torn down and removed even on error or signal. */
export async function withDaemonAsync(config, extraEnv, fn) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-bench-'));
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, AEGIS_HOME: home, ...extraEnv };
  const cleanups = [];
  const cleanup = () => {
    for (const c of cleanups.splice(0).reverse()) c();
    try {
      execFileSync(AEGIS, ['down'], { env, stdio: 'ignore' });
    } catch {}
    fs.rmSync(home, { recursive: true, force: true });
  };
  const onSignal = (sig) => {
    cleanup();
    process.exit(128 + os.constants.signals[sig]);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    fs.writeFileSync(path.join(home, 'config.yaml'), config);
    execFileSync(AEGIS, ['up'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    const api = (method, urlPath, body) =>
      new Promise((resolve, reject) => {
        const req = http.request({ socketPath: path.join(home, 'aegisd.sock'), method, path: urlPath, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => (res.statusCode < 300 ? resolve(JSON.parse(text)) : reject(new Error(`${method} ${urlPath}: ${res.statusCode} ${text}`))));
        });
        req.on('error', reject);
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    return await fn({ home, env, api, onCleanup: (c) => cleanups.push(c) });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    cleanup();
  }
}

export async function waitUntil(predicate, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
