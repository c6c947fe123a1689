// Booted, connected machines on the base rootfs kept ready for tasks: a task with default resources takes
// one instead of waiting for a boot, and a replacement boots in the background.
import fs from 'node:fs';
import path from 'node:path';
import type { Machine } from '../vmm/backend.js';
import type { MachineHost } from '../vmm/machine-host.js';
import { EGRESS_ALL, resolveNetwork, type NetworkPolicy } from '../resources/network-policy.js';
import { bootMachine, DEFAULT_MEMORY_MIB, DEFAULT_VCPUS, type BootedMachine, type MachineShape } from './boot-machine.js';

/** Marks a machine that is still in the pool, so leftovers of a dead daemon can be told from taken ones. */
const POOLED_MARKER = 'pooled';

export class MachinePool {
  private ready: Promise<BootedMachine | undefined>[] = [];
  /** Machines whose boot is still waiting for the harness (seconds on a VM under TCG). */
  private readonly starting = new Set<Machine>();
  private closed = false;

  constructor(
    private readonly host: () => Promise<MachineHost>,
    private readonly machinesDir: string,
    private readonly size: number,
  ) {}

  /** Destroys machines a previous daemon left in its pool, then boots this one's. */
  async start(): Promise<void> {
    if (this.size <= 0) return;
    const host = await this.host();
    for (const id of fs.existsSync(this.machinesDir) ? fs.readdirSync(this.machinesDir) : []) {
      if (fs.existsSync(path.join(this.machinesDir, id, POOLED_MARKER))) await host.backend.destroy(id).catch(() => undefined);
    }
    this.fill();
  }

  /**
   * A ready machine of this shape and network policy, or undefined (then the caller boots its own). The
   * replacement boots when the caller calls `refill()` after its work: booting beside a running task would
   * slow that task. Warm machines have the default network (egress all), already attached.
   */
  async take(shape: MachineShape, network?: NetworkPolicy): Promise<BootedMachine | undefined> {
    if (shape.memoryMiB !== DEFAULT_MEMORY_MIB || shape.vcpus !== DEFAULT_VCPUS) return undefined;
    if (resolveNetwork(network).egress !== EGRESS_ALL) return undefined;
    const next = this.ready.shift();
    if (!next) return undefined;
    const booted = await next;
    if (!booted || booted.machine.state() !== 'running' || booted.client.isClosed) return undefined;
    fs.rmSync(path.join(this.machinesDir, booted.machine.id, POOLED_MARKER), { force: true });
    return booted;
  }

  async close(): Promise<void> {
    this.closed = true;
    const pending = this.ready;
    this.ready = [];
    // A boot in progress is cut short: waiting for it could outlast the daemon's shutdown and orphan the machine.
    for (const m of this.starting) void m.stop(0).catch(() => undefined);
    const host = await this.host().catch(() => undefined);
    await Promise.all(
      pending.map(async (p) => {
        const booted = await p;
        if (!booted) return;
        await booted.client.close();
        await booted.machine.stop(0).catch(() => undefined);
        await host?.backend.destroy(booted.machine.id).catch(() => undefined);
      }),
    );
  }

  refill(): void {
    this.fill();
  }

  private fill(): void {
    while (!this.closed && this.ready.length < this.size) {
      this.ready.push(
        this.host()
          .then(async (host) => {
            let started: Machine | undefined;
            const booted = await bootMachine(
              host,
              { memoryMiB: DEFAULT_MEMORY_MIB, vcpus: DEFAULT_VCPUS },
              { onStarted: (m) => this.starting.add((started = m)) },
            ).finally(() => started && this.starting.delete(started));
            // One throwaway exec warms the harness's exec path, so the task's first command is not the slow one.
            const warm = booted.client.exec({ argv: ['true'], env: {}, stdin: false });
            warm.stdout.resume();
            warm.stderr.resume();
            await warm.exit;
            fs.writeFileSync(path.join(this.machinesDir, booted.machine.id, POOLED_MARKER), '');
            return booted;
          })
          // A failed warm boot only costs the next task a cold boot, which reports the error properly.
          .catch(() => undefined),
      );
    }
  }
}
