// Runs the bundled harness on the host as a normal child process and connects ControlClients to it.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { bundleHarness } from '../../scripts/bundle-harness.mjs';
import { ControlClient, type ConnectOptions } from '../../src/vmm/channel/control-client.js';
import type { ExecRequest } from '../../src/protocol/messages.js';

export interface RunningHarness {
  dir: string;
  socketPath: string;
  proc: ChildProcess;
  /** Everything the harness wrote on stderr (its log). */
  log(): string;
  socket(): net.Socket;
  connect(opts?: ConnectOptions): Promise<ControlClient>;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Bundles src/harness (once per test file: esbuild takes ~100 ms) into a cache keyed by the bundle's
 * content, so test runs reuse one file per harness version instead of leaving a temp dir each.
 */
export async function buildHarness(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-harness-build-'));
  try {
    const built = await bundleHarness({ outfile: path.join(dir, 'aegis-harness.mjs'), minify: false });
    const hash = crypto.createHash('sha256').update(fs.readFileSync(built)).digest('hex').slice(0, 16);
    const cached = path.join(os.tmpdir(), 'aegis-test-cache', 'harness', hash, 'aegis-harness.mjs');
    if (!fs.existsSync(cached)) {
      fs.mkdirSync(path.dirname(cached), { recursive: true });
      // Rename is atomic: a parallel test file building the same bundle never sees half a file.
      fs.renameSync(built, `${cached}.${process.pid}`);
      fs.renameSync(`${cached}.${process.pid}`, cached);
    }
    return cached;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function startHarness(bundle: string, extraEnv: Record<string, string> = {}): Promise<RunningHarness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-harness-'));
  const socketPath = path.join(dir, 'run', 'control.sock');
  // A stale socket file from an "earlier boot" must not stop the harness from listening.
  fs.mkdirSync(path.dirname(socketPath));
  fs.writeFileSync(socketPath, 'stale');
  const proc = spawn(process.execPath, [bundle], {
    env: { AEGIS_CONTROL_SOCKET: socketPath, AEGIS_SHUTDOWN_GRACE_MS: '1000', ...extraEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // If the test worker dies without afterAll, take the harness (and through it, its children) along.
  const reap = (): void => void proc.kill('SIGTERM');
  process.once('exit', reap);
  let log = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`harness did not listen in time:\n${log}`)), 10_000);
    proc.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => reject(new Error(`harness exited with ${code} before listening:\n${log}`)));
  });
  return {
    dir,
    socketPath,
    proc,
    log: () => log,
    socket: () => net.connect(socketPath),
    connect: (opts) => ControlClient.connect(net.connect(socketPath), { timeoutMs: 5000, ...opts }),
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const code = await exited;
      process.off('exit', reap);
      fs.rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

export function collect(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** Runs a command to completion and returns its output and exit. */
export async function run(client: ControlClient, argv: string[], extra: Partial<ExecRequest> = {}, stdin?: Readable) {
  const handle = client.exec({ argv, env: {}, stdin: false, ...extra }, stdin ? { stdin } : {});
  const [stdout, stderr, exit] = await Promise.all([collect(handle.stdout), collect(handle.stderr), handle.exit]);
  return { stdout, stderr, exit, handle };
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, { timeoutMs = 5000, what = 'condition' } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Whether a process exists and has not exited (a zombie waiting for its reaper counts as dead). */
export function pidAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
