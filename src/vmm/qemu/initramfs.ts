// The guest's initramfs: static busybox, the kernel modules in load order and /init, as a gzipped
// cpio archive. Built once per kernel, busybox and init script.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { unavailable } from '../../errors/codes.js';
import { buildOnce } from '../build-once.js';
import { cpioNewc, type CpioEntry } from './cpio.js';
import type { GuestKernel } from './guest-kernel.js';
import { INIT_SCRIPT } from './init-script.js';

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

/** Returns the path of initrd.img for `kernel`, building it on first use. */
export async function provisionInitramfs(qemuDir: string, kernel: GuestKernel): Promise<string> {
  const busyboxPath = BUSYBOX_CANDIDATES.find((p) => fs.existsSync(p));
  if (!busyboxPath) throw unavailable('busybox is not installed, so the qemu initramfs cannot be built: apt-get install busybox-static');
  const busybox = fs.readFileSync(busyboxPath);
  const key = crypto.createHash('sha256').update(path.basename(kernel.dir)).update(busybox).update(INIT_SCRIPT).digest('hex').slice(0, 16);
  const dir = await buildOnce(path.join(qemuDir, `initramfs-${key}`), (tmp) => {
    const entries: CpioEntry[] = ['bin', 'dev', 'proc', 'sys', 'modules'].map((d) => ({ type: 'dir', path: d }));
    // The kernel opens /dev/console for init before any devtmpfs is mounted: without it /init has no stdio.
    entries.push({ type: 'chardev', path: 'dev/console', major: 5, minor: 1 });
    entries.push({ type: 'file', path: 'bin/busybox', data: busybox, mode: 0o755 });
    entries.push({ type: 'file', path: 'init', data: Buffer.from(INIT_SCRIPT), mode: 0o755 });
    entries.push({ type: 'file', path: 'modules/order', data: Buffer.from(kernel.modules.join('\n') + '\n') });
    for (const m of kernel.modules) entries.push({ type: 'file', path: `modules/${m}.ko`, data: fs.readFileSync(path.join(kernel.dir, 'modules', `${m}.ko`)) });
    fs.writeFileSync(path.join(tmp, 'initrd.img'), zlib.gzipSync(cpioNewc(entries)));
  });
  return path.join(dir, 'initrd.img');
}
