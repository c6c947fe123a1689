// Attack: a machine writes far more than it should to its rootfs, /tmp or the control directory, to fill the
// host's disk or memory. Each is bounded: the guest gets ENOSPC, the host keeps its space.
import fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { machineDirs } from '../../src/vmm/sandbox/machine-state.js';
import { guestRun, sandboxFixture, type SandboxFixture } from '../vmm/sandbox/sandbox-fixture.js';

const MIB = 1024 * 1024;

describe('what a machine may write', () => {
  let fx: SandboxFixture;

  beforeAll(async () => {
    fx = await sandboxFixture();
  }, 120_000);
  afterEach(() => fx.cleanupMachines());
  afterAll(() => fx?.dispose());

  it('stops rootfs writes at the size of the machine disk, with ENOSPC, and the machine lives on', async () => {
    const { client, id } = await fx.boot({ memoryMiB: 64, diskMiB: 32 });
    const r = await guestRun(client, ['sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=600 2>&1; echo "dd exit $?"']);
    expect(r.out).toMatch(/No space left on device/);
    expect(r.out).toMatch(/dd exit [1-9]/);
    // On the host, the disk holds what fit, not 600 MiB.
    const disk = fs.statSync(machineDirs(fx.paths.machines, id).disk);
    expect(disk.blocks * 512).toBeLessThan(40 * MIB);
    expect((await guestRun(client, ['echo', 'alive'])).out).toBe('alive\n');
  });

  it('bounds /tmp, /dev/shm and the control socket\'s directory inside the machine', async () => {
    const { client } = await fx.boot({ memoryMiB: 64 });
    for (const [dir, maxMiB] of [['/tmp', 32], ['/dev/shm', 8], ['/.aegis-control', 1]] as const) {
      const r = await guestRun(client, ['sh', '-c', `dd if=/dev/zero of=${dir}/fill bs=64k count=16000 2>&1; du -k ${dir}/fill; rm ${dir}/fill`]);
      expect(r.out, dir).toMatch(/No space left on device/);
      const kib = Number(/^(\d+)\s/m.exec(r.out.split('\n').find((l) => /\bfill$/.test(l)) ?? '')?.[1]);
      expect(kib, dir).toBeLessThanOrEqual(maxMiB * 1024);
    }
    expect((await guestRun(client, ['echo', 'alive'])).out).toBe('alive\n');
  });
});
