// A backend that starts a machine only when the host can hold it: the memory limits of all running machines
// (the pool's, tasks', instances', adopted ones) add up to at most the host's memory × limits.memoryOvercommit.
// The daemon reaches its backend only through this, so every start and adoption is counted.
import { assertFitsHost, describeHost, hostSize, type HostSize } from '../config/host-capacity.js';
import { overCapacity } from '../errors/codes.js';
import type { Backend, Machine, MachineSpec } from './backend.js';

interface Held {
  memoryMiB: number;
}

export class AdmittingBackend implements Backend {
  /** Machines that hold memory now, by id: reserved when their start begins, released when they exit. */
  private readonly held = new Map<string, Held>();
  private readonly host: HostSize;

  constructor(
    private readonly inner: Backend,
    private readonly overcommit: number,
    host?: HostSize,
  ) {
    this.host = host ?? hostSize();
  }

  get name() {
    return this.inner.name;
  }

  get capabilities() {
    return this.inner.capabilities;
  }

  get bootTimeoutMs() {
    return this.inner.bootTimeoutMs;
  }

  probe() {
    return this.inner.probe();
  }

  async start(spec: MachineSpec): Promise<Machine> {
    // A machine larger than the host is refused as such, not as a matter of what else runs now.
    assertFitsHost(spec, this.host);
    const budget = Math.floor(this.host.memoryMiB * this.overcommit);
    const others = [...this.held].filter(([id]) => id !== spec.id);
    const inUse = others.reduce((n, [, h]) => n + h.memoryMiB, 0);
    if (inUse + spec.memoryMiB > budget) {
      throw overCapacity(
        `a machine with ${spec.memoryMiB} MiB of memory cannot start now: ${others.length} running machine(s) hold ${inUse} MiB of the ${budget} MiB ` +
          `this host allows (${describeHost(this.host)}, limits.memoryOvercommit ${this.overcommit})`,
      );
    }
    // Reserved before the first await, so two starts at once cannot both take the last room.
    const slot: Held = { memoryMiB: spec.memoryMiB };
    this.held.set(spec.id, slot);
    try {
      const machine = await this.inner.start(spec);
      this.releaseOnExit(machine, slot);
      return machine;
    } catch (err) {
      this.release(spec.id, slot);
      throw err;
    }
  }

  async adopt(id: string): Promise<Machine | undefined> {
    const machine = await this.inner.adopt(id);
    if (machine && !this.held.has(id)) {
      // An earlier daemon's machine: its spec is the backend's; the limit it runs under is what it holds.
      const stats = await machine.stats().catch(() => undefined);
      const slot: Held = { memoryMiB: stats ? Math.ceil(stats.memoryLimitBytes / 1024 ** 2) : 0 };
      this.held.set(id, slot);
      this.releaseOnExit(machine, slot);
    }
    return machine;
  }

  destroy(id: string): Promise<void> {
    return this.inner.destroy(id);
  }

  private releaseOnExit(machine: Machine, slot: Held): void {
    void machine.exited.then(() => this.release(machine.id, slot));
  }

  /** Frees the slot unless a newer machine of the same id took it meanwhile. */
  private release(id: string, slot: Held): void {
    if (this.held.get(id) === slot) this.held.delete(id);
  }
}
