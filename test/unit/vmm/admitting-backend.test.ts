// AdmittingBackend: the memory of started and adopted machines adds up against host memory × overcommit; an exit,
// or a start that fails, gives it back; a machine larger than the host is refused as such; a start that does not fit
// waits for machines already asked to stop.
import { describe, expect, it } from 'vitest';
import { isAegisError } from '../../../src/errors/codes.js';
import type { Backend, Machine, MachineExit, MachineSpec } from '../../../src/vmm/backend.js';
import { AdmittingBackend } from '../../../src/vmm/admitting-backend.js';

const HOST = { memoryMiB: 4096, cpus: 2 };

/** A backend whose machines exist only in memory: `exit(id)` ends one, `failNext` makes the next start throw. */
class FakeBackend implements Backend {
  readonly name = 'sandbox' as const;
  readonly capabilities = { pauseResume: true, memorySnapshots: false, bootFromDiskLayers: false, workspaceMounts: true, isolation: 'namespace' as const };
  readonly bootTimeoutMs = 1000;
  readonly machines = new Map<string, { machine: Machine; exit: (e: MachineExit) => void }>();
  failNext = false;

  async probe() {
    return { available: true, detail: 'fake' };
  }

  async start(spec: MachineSpec): Promise<Machine> {
    await new Promise((r) => setImmediate(r));
    if (this.failNext) {
      this.failNext = false;
      throw new Error('boot failed');
    }
    return this.make(spec.id, spec.memoryMiB);
  }

  async adopt(id: string) {
    return this.machines.get(id)?.machine;
  }

  async destroy() {}

  make(id: string, memoryMiB: number): Machine {
    let exit!: (e: MachineExit) => void;
    const exited = new Promise<MachineExit>((r) => (exit = r));
    // stop() only asks: the machine is gone when the test calls exit(id).
    const machine = { id, pid: 1, state: () => 'running', exited, stop: () => exited, stats: async () => ({ oomKills: 0, memoryLimitBytes: memoryMiB * 1024 ** 2 }) } as unknown as Machine;
    this.machines.set(id, { machine, exit });
    return machine;
  }

  async exit(id: string) {
    this.machines.get(id)!.exit({ code: 0, signal: null });
    this.machines.delete(id);
    await new Promise((r) => setImmediate(r));
  }
}

const spec = (id: string, memoryMiB: number, vcpus = 1): MachineSpec => ({ id, hostname: id, rootfsLayers: ['/base'], memoryMiB, vcpus });
const codeOf = (p: Promise<unknown>) => p.then(() => 'started', (e) => (isAegisError(e) ? `${e.code}: ${e.message}` : String(e)));

describe('AdmittingBackend', () => {
  it('refuses a start past host memory × overcommit until a running machine exits', async () => {
    const fake = new FakeBackend();
    const b = new AdmittingBackend(fake, 0.5, HOST); // 2048 MiB in all
    await b.start(spec('a', 1024));
    await b.start(spec('b', 1024));
    expect(await codeOf(b.start(spec('c', 512)))).toBe(
      'AEGIS_OVER_CAPACITY: a machine with 512 MiB of memory cannot start now: 2 running machine(s) hold 2048 MiB of the 2048 MiB this host allows (4096 MiB of memory, 2 CPUs, limits.memoryOvercommit 0.5)',
    );
    await fake.exit('a');
    expect(await codeOf(b.start(spec('c', 512)))).toBe('started');
  });

  it('reserves before the backend starts, so two starts at once cannot both take the last room', async () => {
    const b = new AdmittingBackend(new FakeBackend(), 0.5, HOST);
    const results = await Promise.all([codeOf(b.start(spec('a', 1500))), codeOf(b.start(spec('b', 1500)))]);
    expect(results[0]).toBe('started');
    expect(results[1]).toMatch(/^AEGIS_OVER_CAPACITY: /);
  });

  it('gives the memory back when a start fails', async () => {
    const fake = new FakeBackend();
    const b = new AdmittingBackend(fake, 0.5, HOST);
    fake.failNext = true;
    expect(await codeOf(b.start(spec('a', 2048)))).toBe('Error: boot failed');
    expect(await codeOf(b.start(spec('b', 2048)))).toBe('started');
  });

  it('counts an adopted machine of an earlier daemon by the limit it runs under', async () => {
    const fake = new FakeBackend();
    fake.make('old', 1536);
    const b = new AdmittingBackend(fake, 0.5, HOST);
    await b.adopt('old');
    await b.adopt('old'); // adopting again does not count it twice
    expect(await codeOf(b.start(spec('new', 1024)))).toMatch(/: 1 running machine\(s\) hold 1536 MiB of the 2048 MiB /);
    expect(await codeOf(b.start(spec('new', 512)))).toBe('started');
  });

  it('waits for a machine that is stopping instead of refusing on memory about to be given back', async () => {
    const fake = new FakeBackend();
    const b = new AdmittingBackend(fake, 0.5, HOST, 5_000);
    const a = await b.start(spec('a', 2048));
    void a.stop();
    const started = codeOf(b.start(spec('c', 1024)));
    await new Promise((r) => setTimeout(r, 50));
    await fake.exit('a');
    expect(await started).toBe('started');
  });

  it('refuses at once when nothing is leaving, and after the wait when a stopping machine stays', async () => {
    const fake = new FakeBackend();
    const b = new AdmittingBackend(fake, 0.5, HOST, 200);
    await b.start(spec('a', 2048));
    const t0 = Date.now();
    expect(await codeOf(b.start(spec('c', 1024)))).toMatch(/^AEGIS_OVER_CAPACITY: /);
    expect(Date.now() - t0).toBeLessThan(150);
    void fake.machines.get('a')!.machine.stop(); // asked to stop, but never goes
    const t1 = Date.now();
    expect(await codeOf(b.start(spec('c', 1024)))).toMatch(/^AEGIS_OVER_CAPACITY: a machine with 1024 MiB/);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(190);
  });

  it('refuses a machine larger than the host whatever the overcommit', async () => {
    const b = new AdmittingBackend(new FakeBackend(), 100, HOST);
    expect(await codeOf(b.start(spec('a', 8192)))).toBe('AEGIS_OVER_CAPACITY: a machine with 8192 MiB of memory cannot run on this host (4096 MiB of memory, 2 CPUs)');
    expect(await codeOf(b.start(spec('a', 512, 4)))).toBe('AEGIS_OVER_CAPACITY: a machine with 4 vCPUs cannot run on this host (4096 MiB of memory, 2 CPUs)');
  });
});
