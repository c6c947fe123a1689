// The qemu backend's host-side pieces that need no VM: the initramfs archive, module ordering, exit parsing, argv.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cpioNewc } from '../../../src/vmm/qemu/cpio.js';
import { removeOrphanImages } from '../../../src/vmm/qemu/disk-image.js';
import { resolveModules } from '../../../src/vmm/qemu/kernel-modules.js';
import { qemuArgs } from '../../../src/vmm/qemu/qemu-args.js';
import { usableSnapshot } from '../../../src/vmm/qemu/memory-snapshot.js';
import { guestExitFromConsole, oomKillsFromConsole } from '../../../src/vmm/qemu/qemu-machine.js';

const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p));
const temps: string[] = [];
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-qemu-unit-'));
  temps.push(d);
  return d;
};
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('cpioNewc', () => {
  it.skipIf(!busybox)('writes an archive cpio itself unpacks: dirs, modes, symlinks', () => {
    const dir = tmp();
    const archive = cpioNewc([
      { type: 'dir', path: 'bin' },
      { type: 'file', path: 'bin/tool', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
      { type: 'file', path: 'odd-length', data: Buffer.from('abc') },
      { type: 'symlink', path: 'bin/alias', target: 'tool' },
    ]);
    execFileSync(busybox!, ['cpio', '-i', '-d'], { cwd: dir, input: archive, stdio: ['pipe', 'ignore', 'ignore'] });
    expect(fs.readFileSync(path.join(dir, 'bin/tool'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect(fs.statSync(path.join(dir, 'bin/tool')).mode & 0o777).toBe(0o755);
    expect(fs.readFileSync(path.join(dir, 'odd-length'), 'utf8')).toBe('abc');
    expect(fs.readlinkSync(path.join(dir, 'bin/alias'))).toBe('tool');
  });
});

describe('resolveModules', () => {
  /** A fake lib/modules/<release> with .ko files that carry only a .modinfo-like depends tag. */
  function fakeModules(mods: Record<string, string>, builtin: string[] = []): string {
    const dir = tmp();
    fs.mkdirSync(path.join(dir, 'kernel', 'drivers'), { recursive: true });
    for (const [name, deps] of Object.entries(mods)) fs.writeFileSync(path.join(dir, 'kernel', 'drivers', `${name}.ko`), `\x7fELF\0license=GPL\0depends=${deps}\0name=${name}\0`);
    fs.writeFileSync(path.join(dir, 'modules.builtin'), builtin.map((b) => `kernel/fs/${b}.ko\n`).join(''));
    return dir;
  }

  it('puts dependencies first, skips built-ins and duplicates', () => {
    const dir = fakeModules({ virtio_ring: '', virtio: 'virtio_ring', virtio_blk: 'virtio,virtio_ring', overlay: '' }, ['ext4']);
    expect(resolveModules(dir, ['virtio_blk', 'ext4', 'virtio', 'overlay']).map((m) => m.name)).toEqual(['virtio_ring', 'virtio', 'virtio_blk', 'overlay']);
  });

  it('refuses a module that is neither shipped nor built in', () => {
    expect(() => resolveModules(fakeModules({ a: 'missing' }), ['a'])).toThrow(/missing is neither built in nor shipped/);
  });
});

describe('guestExitFromConsole', () => {
  it("reads the harness's exit status from the kernel's panic line", () => {
    const file = path.join(tmp(), 'console.log');
    fs.writeFileSync(file, 'aegis-harness: listening\n[ 9.1] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000300\n');
    expect(guestExitFromConsole(file)).toEqual({ code: 3, signal: null });
    fs.writeFileSync(file, 'Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009\n');
    expect(guestExitFromConsole(file)).toEqual({ code: null, signal: 'SIGKILL' });
    fs.writeFileSync(file, 'nothing\n');
    expect(guestExitFromConsole(file)).toBeUndefined();
  });
});

describe('oomKillsFromConsole', () => {
  it("counts the guest kernel's OOM kill reports", () => {
    const file = path.join(tmp(), 'console.log');
    expect(oomKillsFromConsole(file)).toBe(0);
    fs.writeFileSync(file, '[ 5.1] Out of memory: Killed process 81 (sh) total-vm:1kB\n[ 6.2] Out of memory: Killed process 90 (sh)\n');
    expect(oomKillsFromConsole(file)).toBe(2);
  });
});

describe('qemuArgs', () => {
  it('escapes commas in paths and keeps ACPI on', () => {
    const args = qemuArgs({ accel: 'tcg', memoryMiB: 320, vcpus: 2, kernel: '/k', initrd: '/i', params: ['aegis.hostname=h'], console: '/c', rootImage: '/a,b/root.ext4', controlSocket: '/m/control.sock', confinement: {} });
    expect(args).toContain('microvm,accel=tcg,acpi=on');
    expect(args).toContain('id=root,file=/a,,b/root.ext4,format=raw,if=none,readonly=on');
    expect(args[args.indexOf('-append') + 1]).toMatch(/tsc_early_khz=2000000 tsc=reliable .*aegis\.hostname=h$/);
  });

  it('always sandboxes qemu; chroots and drops to a uid only when given one', () => {
    const base = { accel: 'tcg' as const, memoryMiB: 64, vcpus: 1, kernel: '/k', initrd: '/i', params: [], console: '/c' };
    const plain = qemuArgs({ ...base, confinement: {} });
    expect(plain[plain.indexOf('-sandbox') + 1]).toBe('on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny');
    expect(plain).not.toContain('-runas');
    const dropped = qemuArgs({ ...base, confinement: { jail: '/m/jail', runAs: { uid: 65530, gid: 65531 } } });
    expect(dropped[dropped.indexOf('-sandbox') + 1]).toContain('spawn=deny');
    expect(dropped.slice(dropped.indexOf('-chroot'), dropped.indexOf('-chroot') + 4)).toEqual(['-chroot', '/m/jail', '-runas', '65530:65531']);
  });
});

describe('removeOrphanImages', () => {
  it('removes rootfs disks whose layers are gone and runtime disks of replaced runtimes, nothing else', () => {
    const dir = tmp();
    const layer = fs.mkdtempSync(path.join(dir, 'layer-'));
    const mk = (rel: string, layers?: string[]) => {
      fs.mkdirSync(path.join(dir, rel), { recursive: true });
      if (layers) fs.writeFileSync(path.join(dir, rel, 'layers.json'), JSON.stringify(layers));
    };
    mk('rootfs/alive', [layer]);
    mk('rootfs/orphan', [path.join(dir, 'gone-layer')]);
    mk('rootfs/abc.tmp-123');
    mk('runtime-current');
    mk('runtime-old');
    const removed = removeOrphanImages(dir, '/data/runtime/current');
    expect(removed.sort()).toEqual(['orphan', 'runtime-old']);
    expect(fs.readdirSync(path.join(dir, 'rootfs')).sort()).toEqual(['abc.tmp-123', 'alive']);
    expect(fs.existsSync(path.join(dir, 'runtime-current'))).toBe(true);
  });
});

describe('usableSnapshot', () => {
  it('hands out a snapshot only under the fingerprint it was saved with, and discards any other', () => {
    const dir = tmp();
    const save = (fingerprint: string) => {
      fs.writeFileSync(path.join(dir, 'memory.snap'), 'ram');
      fs.writeFileSync(path.join(dir, 'memory.json'), JSON.stringify({ fingerprint, savedAt: '', compressed: false, bytes: 3 }));
    };
    save('a');
    expect(usableSnapshot(dir, 'a')).toEqual({ file: path.join(dir, 'memory.snap'), compressed: false });
    expect(usableSnapshot(dir, 'b')).toBeUndefined();
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(usableSnapshot(dir, 'a')).toBeUndefined();
  });

  it('discards a snapshot once a disk it knew was written since', () => {
    const dir = tmp();
    const disk = path.join(dir, 'upper.ext4');
    fs.writeFileSync(disk, 'fs');
    const st = fs.statSync(disk);
    fs.writeFileSync(path.join(dir, 'memory.snap'), 'ram');
    const meta = { fingerprint: 'a', savedAt: '', compressed: true, bytes: 3, disks: { [disk]: { size: st.size, mtimeMs: st.mtimeMs } } };
    fs.writeFileSync(path.join(dir, 'memory.json'), JSON.stringify(meta));
    expect(usableSnapshot(dir, 'a')?.compressed).toBe(true);
    fs.utimesSync(disk, new Date(), new Date(Date.now() + 5_000));
    expect(usableSnapshot(dir, 'a')).toBeUndefined();
    expect(fs.existsSync(path.join(dir, 'memory.snap'))).toBe(false);
  });
});
