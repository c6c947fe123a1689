// A backend that starts a machine only when the host can hold it: the memory limits of all running machines
// (the pool's, tasks', instances', adopted ones) add up to at most the host's memory × limits.memoryOvercommit.
// The daemon reaches its backend only through this, so every start and adoption is counted.
// A start that does not fit while machines are on their way out (a finished task's machine is stopped just after
// its command's exit is reported) waits for them to go before it is refused: back-to-back runs near the limit
// would otherwise fail on memory that is about to be given back.
import { assertFitsHost, describeHost, hostSize, type HostSize } from '../config/host-capacity.js';
import { overCapacity } from '../errors/codes.js';
import type { Backend, Machine, MachineSpec } from './backend.js';

interface Held {
  memoryMiB: number;
  /** Set once the machine was asked to stop or suspend: resolves when it is gone. */
  leaving?: Promise<unknown>;
}

/** How long a start waits for leaving machines to free their memory (default). */
const LEAVING_WAIT_MS = 10_000;

export class AdmittingBackend implements Backend {
  /** Machines that hold memory now, by id: reserved when their start begins, released when they exit. */
  private readonly held = new Map<string, Held>();
  private readonly host: HostSize;

  constructor(
    private readonly inner: Backend,
    private readonly overcommit: number,
    host?: HostSize,
    private readonly leavingWaitMs = LEAVING_WAIT_MS,
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
    const deadline = Date.now() + this.leavingWaitMs;
    for (;;) {
      const { others, inUse, budget } = this.usage(spec.id);
      if (inUse + spec.memoryMiB <= budget) break;
      const leaving = others.flatMap(([, h]) => (h.leaving ? [h.leaving] : []));
      const left = deadline - Date.now();
      if (leaving.length === 0 || left <= 0) {
        throw overCapacity(
          `a machine with ${spec.memoryMiB} MiB of memory cannot start now: ${others.length} running machine(s) hold ${inUse} MiB of the ${budget} MiB ` +
            `this host allows (${describeHost(this.host)}, limits.memoryOvercommit ${this.overcommit})`,
        );
      }
      await waitForOne(leaving, left);
    }
    // Reserved with no await since the check above, so two starts at once cannot both take the last room.
    const slot: Held = { memoryMiB: spec.memoryMiB };
    this.held.set(spec.id, slot);
    try {
      const machine = await this.inner.start(spec);
      this.track(machine, slot);
      return machine;
    } catch (err) {
      this.release(spec.id, slot);
      throw err;
    }
  }

  private usage(id: string): { others: [string, Held][]; inUse: number; budget: number } {
    const others = [...this.held].filter(([other]) => other !== id);
    return { others, inUse: others.reduce((n, [, h]) => n + h.memoryMiB, 0), budget: Math.floor(this.host.memoryMiB * this.overcommit) };
  }

  async adopt(id: string): Promise<Machine | undefined> {
    const machine = await this.inner.adopt(id);
    if (machine && !this.held.has(id)) {
      // An earlier daemon's machine: its spec is the backend's; the limit it runs under is what it holds.
      const stats = await machine.stats().catch(() => undefined);
      const slot: Held = { memoryMiB: stats ? Math.ceil(stats.memoryLimitBytes / 1024 ** 2) : 0 };
      this.held.set(id, slot);
      this.track(machine, slot);
    }
    return machine;
  }

  destroy(id: string): Promise<void> {
    return this.inner.destroy(id);
  }

  /** Frees the slot when the machine exits, and marks it leaving as soon as it is asked to stop or suspend. */
  private track(machine: Machine, slot: Held): void {
    void machine.exited.then(() => this.release(machine.id, slot));
    const leaving = machine.exited.then(() => undefined);
    const stop = machine.stop.bind(machine);
    machine.stop = (graceMs) => {
      slot.leaving = leaving;
      return stop(graceMs);
    };
    const suspend = machine.suspend?.bind(machine);
    if (suspend)
      machine.suspend = () => {
        slot.leaving = leaving;
        return suspend();
      };
  }

  /** Frees the slot unless a newer machine of the same id took it meanwhile. */
  private release(id: string, slot: Held): void {
    if (this.held.get(id) === slot) this.held.delete(id);
  }
}

/** Resolves when any of `promises` settles or after `ms`, whichever comes first. */
function waitForOne(promises: Promise<unknown>[], ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((r) => (timer = setTimeout(r, ms)));
  return Promise.race([...promises.map((p) => p.then(() => undefined, () => undefined)), timeout]).finally(() => clearTimeout(timer));
}
