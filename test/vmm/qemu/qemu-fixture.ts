// A qemu backend in a fresh AEGIS_HOME for tests that boot real VMs, and a way to run a command in one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { aegisPaths, type AegisPaths } from '../../../src/config/paths.js';
import type { ControlClient } from '../../../src/vmm/channel/control-client.js';
import { ensureBaseRootfs } from '../../../src/vmm/rootfs/base-rootfs.js';
import { provisionRuntime } from '../../../src/vmm/runtime/node-runtime.js';
import { provisionGuestKernel } from '../../../src/vmm/qemu/guest-kernel.js';
import { provisionQemuAssets, type QemuAssets } from '../../../src/vmm/qemu/qemu-assets.js';
import { QemuBackend } from '../../../src/vmm/qemu/qemu-backend.js';
import { which } from '../../../src/util/which.js';
import { HARNESS } from '../sandbox/sandbox-fixture.js';

export const hasQemu = which('qemu-system-x86_64') !== undefined;

/** How long a boot may take under TCG on a busy 2-core host. */
export const BOOT_MS = 60_000;

export interface QemuFixture {
  home: string;
  paths: AegisPaths;
  assets: QemuAssets;
  backend: QemuBackend;
  baseRootfs: string;
}

/** Provisions everything a VM boots from; the 27 MB kernel package is kept across runs and linked in. */
export async function qemuFixture(prefix = 'ae-qemu-'): Promise<QemuFixture> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const paths = aegisPaths({ AEGIS_HOME: home });
  const runtimeDir = await provisionRuntime(paths, HARNESS);
  const baseRootfs = await ensureBaseRootfs(paths);
  const shared = await provisionGuestKernel(path.join(os.tmpdir(), 'aegis-test-cache', 'qemu'));
  fs.mkdirSync(path.join(paths.data, 'qemu'), { recursive: true });
  fs.symlinkSync(shared.dir, path.join(paths.data, 'qemu', path.basename(shared.dir)));
  const assets = await provisionQemuAssets(paths, runtimeDir);
  return { home, paths, assets, backend: new QemuBackend({ paths, assets }), baseRootfs };
}

/** Runs argv in the guest to completion; stderr is dropped. */
export async function runInGuest(client: ControlClient, argv: string[]): Promise<{ code: number | null; stdout: string }> {
  const h = client.exec({ argv, env: {}, stdin: false });
  let stdout = '';
  h.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  h.stderr.resume();
  const exit = await h.exit;
  return { code: exit.code, stdout };
}
