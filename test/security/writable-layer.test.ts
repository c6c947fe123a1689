// Attack: a machine writes far more than it should to its rootfs, /tmp, the control directory or its console,
// to fill the host's disk or memory. Each is bounded: the guest gets ENOSPC, the host keeps its space.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleCap } from '../../src/vmm/console-cap.js';
import { machineDirs } from '../../src/vmm/sandbox/machine-state.js';
import { waitFor, withTempHome, type TempHome } from '../support/temp-home.js';
import { guestRun, useSandboxFixture } from '../vmm/sandbox/sandbox-fixture.js';

const MIB = 1024 * 1024;

describe('what a machine may write', () => {
  const fx = useSandboxFixture();

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

describe('a machine console file', () => {
  it('is cut back to its boot and newest lines whenever a writer pushes it past its limit', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-'));
    const file = path.join(dir, 'console.log');
    fs.writeFileSync(file, 'boot line\n');
    const cap = new ConsoleCap(file, 256 * 1024);
    // A writer that appends as fast as it can, as a guest kernel flooding its console would.
    const writer = spawn('sh', ['-c', `exec yes console-flood >> '${file}'`]);
    try {
      await new Promise((r) => setTimeout(r, 1_000));
      writer.kill('SIGKILL');
      await new Promise((r) => writer.once('exit', r));
      expect(cap.cutCount).toBeGreaterThan(0);
      // Once the writer stops, the last change notification cuts the file back under its limit. (While it
      // writes, the file can pass the limit by what it writes before the next notification is handled.)
      await waitFor(() => fs.statSync(file).size <= 256 * 1024, { what: 'the file to be cut back', timeoutMs: 5_000 });
      // The boot stays at the start, the newest lines at the end, and a line between says what went.
      expect(fs.readFileSync(file, 'utf8')).toMatch(/^boot line\n(console-flood\n)*\[aegis: console output passed 262144 bytes; \d+ bytes dropped here\]\n(console-flood\n)+/);
    } finally {
      writer.kill('SIGKILL');
      cap.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('limits.machineDisk', () => {
  let t: TempHome;

  beforeAll(async () => {
    t = withTempHome();
    fs.appendFileSync(path.join(t.home, 'config.yaml'), 'limits:\n  machineDisk: 32MiB\n');
    expect((await t.aegis(['up'])).code).toBe(0);
  }, 30_000);
  afterAll(() => t?.dispose(), 30_000);

  it('sizes the disk of every machine the daemon starts', async () => {
    const r = await t.aegis(['run', '--', 'sh', '-c', 'dd if=/dev/zero of=/big bs=1M count=100 2>&1; df -m / | tail -1']);
    expect(r.stdout).toMatch(/No space left on device/);
    const sizeMiB = Number(r.stdout.trim().split('\n').at(-1)!.trim().split(/\s+/)[1]);
    expect(sizeMiB).toBeLessThanOrEqual(32);
  });
});
