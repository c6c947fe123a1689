// A backend whose machines are real aegis-harness processes on the host (no isolation): the lifecycle boots
// them, talks to them over the real control channel and runs real commands, while the test holds what a
// backend decides itself: whether a start fails, pausing (SIGSTOP/SIGCONT of the harness), and the CPU time
// a machine reports. Its machine table is what tests assert on, beside the resources' status.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Backend, Machine, MachineExit, MachineSpec, MachineState, MachineStats } from '../../src/vmm/backend.js';
import type { MachineHost } from '../../src/vmm/machine-host.js';
import { startHarness, type RunningHarness } from '../harness/harness-fixture.js';

export class FakeMachine implements Machine {
  readonly pid: number;
  /** CPU time the machine reports, in microseconds: tests move it to look busy. */
  cpuMicros = 0;
  private current: MachineState = 'running';
  private end!: (exit: MachineExit) => void;
  readonly exited: Promise<MachineExit>;

  constructor(
    readonly id: string,
    readonly spec: MachineSpec,
    private readonly harness: RunningHarness,
  ) {
    this.pid = harness.proc.pid!;
    this.exited = new Promise((resolve) => (this.end = resolve));
    harness.proc.once('exit', (code, signal) => {
      this.current = 'exited';
      this.end({ code, signal });
    });
  }

  state(): MachineState {
    return this.current;
  }

  connect(): Promise<net.Socket> {
    return Promise.resolve(this.harness.socket());
  }

  async pause(): Promise<void> {
    this.harness.proc.kill('SIGSTOP');
    this.current = 'paused';
  }

  async resume(): Promise<void> {
    this.harness.proc.kill('SIGCONT');
    this.current = 'running';
  }

  async stop(): Promise<MachineExit> {
    if (this.current === 'paused') await this.resume();
    await this.harness.stop();
    return this.exited;
  }

  async stats(): Promise<MachineStats> {
    return { oomKills: 0, memoryLimitBytes: this.spec.memoryMiB * 1024 * 1024, cpuMicros: this.cpuMicros };
  }
}

export class FakeBackend implements Backend {
  readonly name = 'sandbox' as const;
  readonly capabilities = { pauseResume: true, memorySnapshots: false, bootFromDiskLayers: false, workspaceMounts: false, isolation: 'namespace' as const };
  readonly bootTimeoutMs = 10_000;
  /** Every machine started, by id, in start order (stopped ones stay, in state 'exited'). */
  readonly machines = new Map<string, FakeMachine>();
  /** The next this many starts fail, as a backend that cannot boot (yet) would. */
  failNextStarts = 0;

  constructor(private readonly harnessBundle: string) {}

  async probe() {
    return { available: true, detail: 'fake: harness processes on the host' };
  }

  async start(spec: MachineSpec): Promise<Machine> {
    if (this.failNextStarts > 0) {
      this.failNextStarts--;
      throw new Error('the fake backend was told to fail this start');
    }
    const machine = new FakeMachine(spec.id, spec, await startHarness(this.harnessBundle));
    this.machines.set(spec.id, machine);
    return machine;
  }

  async adopt(): Promise<Machine | undefined> {
    return undefined;
  }

  async destroy(): Promise<void> {}

  /** The machines not exited, in start order. */
  live(): FakeMachine[] {
    return [...this.machines.values()].filter((m) => m.state() !== 'exited');
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.live().map((m) => m.stop()));
  }
}

export function fakeHost(backend: FakeBackend): MachineHost {
  const baseRootfs = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-fake-rootfs-'));
  return { backend, baseRootfs };
}
