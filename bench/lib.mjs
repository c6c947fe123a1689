// Shared helpers for benchmarks: timing, percentiles, a temp AEGIS_HOME with a running daemon.
import { spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
// AEGIS_BENCH_CLI: another launcher (e.g. one that starts aegisd under --cpu-prof).
export const AEGIS = process.env.AEGIS_BENCH_CLI ?? path.join(ROOT, 'bin', 'aegis');

export function percentile(samples, p) {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export const round = (x) => Math.round(x * 100) / 100;

/** A small seeded random number generator (uniform in [0, 1)), so generated inputs are the same every run. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
    // BENCH_KEEP_LOG=FILE: the daemon's log outlives the temp home (to see what a run did).
    if (process.env.BENCH_KEEP_LOG) fs.cpSync(path.join(home, 'data', 'aegisd.log'), process.env.BENCH_KEEP_LOG, { force: true });
    fs.rmSync(home, { recursive: true, force: true });
  };
  const onSignal = (sig) => {
    cleanup();
    process.exit(128 + os.constants.signals[sig]);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let api;
  try {
    fs.writeFileSync(path.join(home, 'config.yaml'), config);
    execFileSync(AEGIS, ['up'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    api = (method, urlPath, body) =>
      new Promise((resolve, reject) => {
        // agent: false: a kept-alive socket would sit unread through a benchmark's synchronous runs (execFileSync)
        // while the daemon times it out, and the next call (the instances' deletion) would fail on it.
        const req = http.request({ socketPath: path.join(home, 'aegisd.sock'), agent: false, method, path: urlPath, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
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
    // Instance machines outlive `aegis down` (the next daemon adopts them): delete the instances first.
    if (api) await deleteInstances(api).catch((err) => process.stderr.write(`bench: instances not deleted, their machines may outlive the daemon: ${err.message}\n`));
    cleanup();
  }
}

async function deleteInstances(api) {
  const list = async () => (await api('GET', '/v1/instances')).items ?? [];
  for (const i of await list()) await api('DELETE', `/v1/instances/${i.metadata.uid}`);
  await waitUntil(async () => (await list()).length === 0, 'instances deleted');
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

// ---- serve mode: an httpd instance and time to first byte through the router ----

/** Connect, send one GET (Connection: close), and time until the first response byte; checks for a 200. */
export function ttfb(router, id) {
  const u = new URL(router);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first;
    let head = '';
    const sock = net.connect(Number(u.port), u.hostname);
    sock.setTimeout(60_000, () => sock.destroy(new Error('no response in 60 s')));
    sock.on('connect', () => sock.write(`GET /passwd HTTP/1.1\r\nHost: ${u.host}\r\nX-Aegis-App: ${id}\r\nConnection: close\r\n\r\n`));
    sock.on('data', (c) => {
      first ??= performance.now() - t0;
      if (head.length < 64) head += c;
    });
    sock.on('end', () => (head.startsWith('HTTP/1.1 200') ? resolve(first) : reject(new Error(`unexpected response: ${head}`))));
    sock.on('error', reject);
  });
}

/** An ad-hoc busybox httpd instance; resolves once a request through the router is answered. */
async function serveInstance(api) {
  const router = (await api('GET', '/v1/status')).router;
  const id = (await api('POST', '/v1/instances', { command: ['httpd', '-f', '-p', '8080', '-h', '/etc'], expose: [8080] })).metadata.uid;
  await waitUntil(() => ttfb(router, id), 'the instance to serve');
  const state = async () => (await api('GET', `/v1/instances/${id}`)).status.state;
  return { router, id, state };
}

/** `runs` fresh instances: from creation to the first byte through the router (a cold boot), each deleted after. */
export async function measureColdServe(api, runs) {
  const router = (await api('GET', '/v1/status')).router;
  const cold = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const id = (await api('POST', '/v1/instances', { command: ['httpd', '-f', '-p', '8080', '-h', '/etc'], expose: [8080] })).metadata.uid;
    await waitUntil(() => ttfb(router, id), 'the instance to serve', 120_000);
    cold.push(performance.now() - t0);
    await api('DELETE', `/v1/instances/${id}`);
  }
  return cold;
}

/** `runs` times: wait for `idleState`, time one request (the wake), then 3 requests while it runs. */
export async function measureWake(api, idleState, runs) {
  const { router, id, state } = await serveInstance(api);
  const wake = [];
  const running = [];
  for (let i = 0; i < runs; i++) {
    await waitUntil(async () => (await state()) === idleState, idleState);
    wake.push(await ttfb(router, id));
    for (let j = 0; j < 3; j++) running.push(await ttfb(router, id));
  }
  if ((await state()) !== 'running') throw new Error('the instance should be running right after a request');
  return { wake, running };
}

/** The daemon's pid, from its pid file. */
export function daemonPid(home) {
  return Number(fs.readFileSync(path.join(home, 'data', 'aegisd.pid'), 'utf8'));
}

function cpuMicros(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** The share of one CPU (in %) process `pid` uses over the next `ms` (clock ticks: resolves 1 s / ms × 1 %). */
export async function cpuPercentOver(pid, ms) {
  const cpu0 = cpuMicros(pid);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return ((cpuMicros(pid) - cpu0) / ((performance.now() - t0) * 1000)) * 100;
}

