// The hostile harness peer (../hostile-harness.mjs, its own process) and what the tests that attack the
// daemon through it share: the host side of a session with it, a machine and instance whose control
// stream leads to it (the rest of the daemon real), and the measure of an attack while a well-behaved
// channel keeps working.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { InstanceRuntime, type InstanceLogSink } from '../../../src/lifecycle/instance-runtime.js';
import type { InstancePlan } from '../../../src/lifecycle/instance-plan.js';
import { RouterDirectory, type ServedInstances } from '../../../src/lifecycle/router-directory.js';
import { PROTOCOL_VERSION } from '../../../src/protocol/version.js';
import type { Backend, Machine, MachineExit, MachineState } from '../../../src/vmm/backend.js';
import { ControlClient } from '../../../src/vmm/channel/control-client.js';
import { run } from '../../harness/harness-fixture.js';

const HOSTILE = fileURLToPath(new URL('../hostile-harness.mjs', import.meta.url));
export const MiB = 1024 * 1024;
/** What one attack may add to the daemon's RSS at its peak (the attacks offer 256 MiB and more). */
export const RSS_BOUND_MIB = 64;
/** How long a violation may take to be noticed: the limits are hit within the first few MiB. */
export const FAIL_FAST_MS = 5_000;

export interface StreamReport {
  route: string;
  sent: number;
}

export interface HostilePeer {
  socketPath: string;
  connect(): Promise<ControlClient>;
  /** What the peer reported per closed stream: how much it managed to send before the host cut it off. */
  reports: StreamReport[];
  stop(): Promise<void>;
}

const peers: ChildProcess[] = [];

/** Kills every peer still running (for afterAll: a test that failed before its stop()). */
export function killPeers(): void {
  for (const p of peers) p.kill('SIGKILL');
}

export async function startHostile(...modes: string[]): Promise<HostilePeer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-hostile-'));
  const socketPath = path.join(dir, 'control.sock');
  const proc = spawn(process.execPath, [HOSTILE, socketPath, ...modes], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, AEGIS_PROTOCOL: String(PROTOCOL_VERSION) } });
  peers.push(proc);
  // A test that fails before its stop() (or a worker torn down early) must not leave the peer behind.
  const reap = (): void => void proc.kill('SIGKILL');
  process.once('exit', reap);
  const reports: StreamReport[] = [];
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line === 'listening') resolve();
        else reports.push(JSON.parse(line) as StreamReport);
      }
    });
    proc.once('exit', (code) => reject(new Error(`hostile harness exited with ${code}`)));
  });
  return {
    socketPath,
    reports,
    connect: () => ControlClient.connect(net.connect(socketPath), { timeoutMs: 5_000 }),
    stop: async () => {
      proc.kill('SIGKILL');
      process.off('exit', reap);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Outcome<T> {
  value?: T;
  error?: unknown;
  elapsedMs: number;
  /** Peak growth of this process's RSS while the attack ran. */
  rssGrowthMiB: number;
  /** Execs the well-behaved channel completed meanwhile. */
  goodRuns: number;
}

/** Runs `attack` while the well-behaved channel keeps running commands, watching our RSS at its peak. */
/** `paceMs`: a pause between the good channel's commands (long attacks need not run thousands of them). */
export async function underAttack<T>(good: ControlClient, attack: () => Promise<T>, paceMs = 0): Promise<Outcome<T>> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const started = Date.now();
  let settled = false;
  const result = attack().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  void result.finally(() => (settled = true));
  let goodRuns = 0;
  const goodLoop = (async () => {
    do {
      const { stdout, exit } = await run(good, ['echo', 'still here']);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(stdout.toString()).toBe('still here\n');
      goodRuns++;
      if (paceMs > 0 && !settled) await new Promise((r) => setTimeout(r, paceMs));
    } while (!settled);
  })();
  const outcome = await result;
  const elapsedMs = Date.now() - started;
  await goodLoop;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { ...outcome, elapsedMs, rssGrowthMiB: (peak - base) / MiB, goodRuns };
}

/** The checks every attack shares: fast, bounded, and the good channel never noticed. */
export function expectContained(outcome: Outcome<unknown>, boundMs = FAIL_FAST_MS): void {
  expect(outcome.elapsedMs).toBeLessThan(boundMs);
  expect(outcome.rssGrowthMiB).toBeLessThan(RSS_BOUND_MIB);
  expect(outcome.goodRuns).toBeGreaterThanOrEqual(1);
}

/** A machine whose control stream leads to the hostile harness: the rest of the daemon is real. */
export class HostileMachine implements Machine {
  readonly pid = process.pid;
  readonly exited: Promise<MachineExit>;
  private end!: (e: MachineExit) => void;
  private current: MachineState = 'running';

  constructor(
    readonly id: string,
    private readonly socketPath: string,
  ) {
    this.exited = new Promise((resolve) => (this.end = resolve));
  }

  state(): MachineState {
    return this.current;
  }

  connect(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.socketPath);
      socket.once('connect', () => resolve(socket));
      socket.once('error', reject);
    });
  }

  async pause(): Promise<void> {}
  async resume(): Promise<void> {}

  async stop(): Promise<MachineExit> {
    const exit: MachineExit = { code: 0, signal: null };
    this.current = 'exited';
    this.end(exit);
    return exit;
  }

  async stats() {
    return { oomKills: 0, memoryLimitBytes: 64 * MiB };
  }
}

/** An instance whose machines' harness is `peer`: the runtime, router directory and log are the daemon's own. */
export function hostileInstance(peer: HostilePeer, log: InstanceLogSink) {
  const backend: Backend = {
    name: 'sandbox',
    capabilities: { pauseResume: true, memorySnapshots: false, bootFromDiskLayers: false, workspaceMounts: false, isolation: 'namespace' },
    bootTimeoutMs: 5_000,
    probe: async () => ({ available: true, detail: 'hostile' }),
    start: async (spec) => new HostileMachine(spec.id, peer.socketPath),
    adopt: async () => undefined,
    destroy: async () => {},
  };
  const plan: InstancePlan = {
    app: 'evil',
    command: ['server'],
    expose: [8080],
    env: {},
    resources: { memoryMiB: 64, vcpus: 1 },
    idle: { pauseAfterMs: 60_000, stopAfterMs: 300_000 },
  };
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-hostile-state-'));
  const runtime = new InstanceRuntime({
    host: async () => ({ backend, baseRootfs: '/nonexistent' }),
    plan: async () => plan,
    planInputs: () => '1',
    log,
    retainImage: () => () => {},
    changed: () => {},
    hostname: 'evil',
    stateDir,
  });
  const instances = {
    managed: () => [{ uid: 'inst-evil', name: 'evil', app: 'evil', ports: [8080] }],
    runtime: () => runtime,
    runtimeSoon: async () => runtime,
  } as unknown as ServedInstances;
  return {
    runtime,
    directory: new RouterDirectory(instances),
    cleanup: async () => {
      await runtime.delete();
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
