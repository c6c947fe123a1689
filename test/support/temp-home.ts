// A fresh AEGIS_HOME per test with a deterministic environment, and a way to run the built CLI in it.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fakeLibkrun } from './fake-libkrun.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const AEGIS_BIN = path.join(ROOT, 'bin', 'aegis');

/** The backend the e2e daemons run machines on: AEGIS_TEST_BACKEND makes the suite a matrix. */
export const TEST_BACKEND = process.env.AEGIS_TEST_BACKEND ?? 'sandbox';
export const ON_QEMU = TEST_BACKEND === 'qemu';
/** The libkrun backend, run here on its test double (test/vmm/libkrun/): the worker and all of Aegis's side are real. */
export const ON_LIBKRUN = TEST_BACKEND === 'libkrun';
/** A backend whose machines are VMs: their limits count the guest kernel's share, their PID 1 is not the sandbox's. */
export const ON_VM = ON_QEMU || ON_LIBKRUN;
/** libkrun cannot pause a VM: an idle instance stays running until it is stopped. */
export const CAN_PAUSE = !ON_LIBKRUN;
/**
 * How much longer than on the sandbox anything involving a machine boot takes: a qemu VM under TCG boots
 * in ~11 s and execs take ~0.5 s, on two cores shared by two test files. One knob for every such wait.
 */
export const BACKEND_SLOWNESS = ON_QEMU ? 10 : 1;
/** A time budget that covers boots, wakes and execs on the selected backend. */
export const scaled = (ms: number): number => ms * BACKEND_SLOWNESS;
/** `scaled` as a duration for the daemon's config.yaml (router.wakeTimeout). */
export const scaledDuration = (ms: number): string => `${scaled(ms)}ms`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TempHome {
  home: string;
  env: NodeJS.ProcessEnv;
  /** Runs `aegis ARGS…` to completion; timeoutMs (default 30 s) is scaled for the backend. */
  aegis(args: string[], opts?: { input?: string; timeoutMs?: number; cwd?: string }): Promise<CliResult>;
  /** Starts `aegis ARGS…` and hands back the child (for Ctrl+C tests); dispose() kills it if still running. */
  spawnAegis(args: string[], opts?: SpawnOptions): ReturnType<typeof spawn>;
  /** One JSON request to the daemon's API over its unix socket. */
  api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Stops any daemon started in this home and removes it. */
  dispose(): Promise<void>;
}

export function withTempHome(): TempHome {
  // Short path: unix socket paths are limited to 108 bytes and machines nest theirs under AEGIS_HOME.
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-'));
  // Test daemons run side by side: each router takes a free port instead of the default 8099.
  fs.writeFileSync(path.join(home, 'config.yaml'), 'router:\n  port: 0\n');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AEGIS_HOME: home,
    NO_COLOR: '1', // output assertions must not see escape codes
    TZ: 'UTC', // dates in output are stable
    COLUMNS: '120', // help text wraps the same everywhere
    // The e2e suite as a matrix: AEGIS_TEST_BACKEND=qemu runs it on real VMs (slow under TCG).
    ...(process.env.AEGIS_TEST_BACKEND ? { AEGIS_BACKEND: process.env.AEGIS_TEST_BACKEND } : {}),
    // No registry reachable here ships libkrun: the daemon loads the test double, unless AEGIS_LIBKRUN names
    // a real libkrun (a maintainer's host).
    ...(ON_LIBKRUN ? { AEGIS_LIBKRUN: process.env.AEGIS_LIBKRUN || fakeLibkrun().library } : {}),
  };
  // A test that fails before its Ctrl+C would otherwise leave the CLI (and its serve loop) running.
  const children = new Set<ChildProcess>();
  const spawnAegis = (args: string[], opts: SpawnOptions = {}) => {
    const child = spawn(process.execPath, [AEGIS_BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'], ...opts });
    children.add(child);
    child.on('close', () => children.delete(child));
    return child;
  };
  const aegis = (args: string[], opts: { input?: string; timeoutMs?: number; cwd?: string } = {}) =>
    new Promise<CliResult>((resolve, reject) => {
      const child = spawnAegis(args, opts.cwd ? { cwd: opts.cwd } : {});
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout!.on('data', (b: Buffer) => out.push(b));
      child.stderr!.on('data', (b: Buffer) => err.push(b));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`aegis ${args.join(' ')} timed out`));
      }, scaled(opts.timeoutMs ?? 30_000));
      child.on('error', reject);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? 128 + (signal ? os.constants.signals[signal] : 0), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
      });
      child.stdin!.end(opts.input ?? '');
    });
  const api = (method: string, urlPath: string, body?: unknown) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = http.request({ socketPath: path.join(home, 'aegisd.sock'), method, path: urlPath, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  return {
    home,
    env,
    aegis,
    api,
    spawnAegis,
    async dispose() {
      for (const c of children) c.kill('SIGKILL');
      const pidFile = path.join(home, 'data', 'aegisd.pid');
      // A test that stopped the daemon (or saw it die) may leave instance machines behind, which only a
      // daemon adopts and stops: start one so they are deleted rather than orphaned with this home gone.
      const machines = path.join(home, 'data', 'machines');
      if (!daemonAlive(pidFile) && fs.existsSync(machines) && fs.readdirSync(machines).length > 0) await aegis(['up']).catch(() => undefined);
      if (daemonAlive(pidFile)) {
        // Instance machines outlive `aegis down` (the next daemon adopts them): delete the instances first.
        await deleteInstances(api).catch(() => undefined);
        const down = await aegis(['down']).catch(() => undefined);
        // `down` waits 5 s; a daemon still stopping VMs may need longer, and must not outlive the test.
        if (down?.code !== 0) await waitFor(() => !daemonAlive(pidFile), { what: 'daemon exit' }).catch(() => undefined);
      }
      // Keep the daemon log of a failed run for inspection.
      if (process.env.AEGIS_KEEP_HOMES) return;
      fs.rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Deletes every instance and waits until they are gone (their machines stopped). */
async function deleteInstances(api: TempHome['api']): Promise<void> {
  const list = async () => ((await api('GET', '/v1/instances')).body.items ?? []) as { metadata: { uid: string } }[];
  for (const i of await list()) await api('DELETE', `/v1/instances/${i.metadata.uid}`);
  await waitFor(async () => (await list()).length === 0, { what: 'instances deleted', timeoutMs: 30_000 });
}

function daemonAlive(pidFile: string): boolean {
  try {
    const pid = Number.parseInt(fs.readFileSync(pidFile, 'utf8'), 10);
    // kill(0) would probe our own process group: only a real pid counts.
    if (!(pid > 0)) return false;
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Polls until predicate is truthy; never a fixed sleep. timeoutMs (default 10 s) is scaled for the backend:
 * it is only an upper bound, so a slower backend loosens it without changing what is asserted.
 */
export async function waitFor<T>(predicate: () => T | Promise<T>, { timeoutMs: unscaled = 10_000, intervalMs = 20, what = 'condition' } = {}): Promise<T> {
  const timeoutMs = scaled(unscaled);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
