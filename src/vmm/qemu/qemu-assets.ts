// Everything a qemu machine boots from, provisioned once and cached under $AEGIS_HOME/data/qemu:
// the guest kernel, the initramfs, the runtime disk, and the accelerator that really works here.
import path from 'node:path';
import type { AegisPaths } from '../../config/paths.js';
import { unavailable } from '../../errors/codes.js';
import { which } from '../../util/which.js';
import { removeStaleBuilds } from '../build-once.js';
import { removeOrphanImages, runtimeImage } from './disk-image.js';
import { provisionGuestKernel, type GuestKernel } from './guest-kernel.js';
import { provisionInitramfs } from './initramfs.js';
import { probeKvm, type KvmVerdict } from './kvm-probe.js';
import type { Accel } from './qemu-args.js';
import { probeConfinement } from './qemu-confinement.js';

export interface QemuAssets {
  qemuBin: string;
  /** $AEGIS_HOME/data/qemu */
  dir: string;
  kernel: GuestKernel;
  initrd: string;
  runtimeDir: string;
  runtimeImage: string;
  accel: Accel;
  kvm: KvmVerdict;
}

export const qemuDataDir = (paths: AegisPaths) => path.join(paths.data, 'qemu');

export async function provisionQemuAssets(paths: AegisPaths, runtimeDir: string): Promise<QemuAssets> {
  const qemuBin = which('qemu-system-x86_64');
  if (!qemuBin) throw unavailable('qemu-system-x86_64 not found (apt-get install qemu-system-x86)');
  // No machine runs with a qemu that cannot sandbox itself.
  const confinement = await probeConfinement(qemuBin);
  if (!confinement.ok) throw unavailable(confinement.detail);
  const dir = qemuDataDir(paths);
  removeStaleBuilds(dir);
  removeStaleBuilds(path.join(dir, 'rootfs'));
  removeOrphanImages(dir, runtimeDir);
  const kernel = await provisionGuestKernel(dir);
  const [initrd, image] = await Promise.all([provisionInitramfs(dir, kernel), runtimeImage(dir, runtimeDir)]);
  const kvm = await probeKvm(dir, qemuBin, kernel.kernel, initrd);
  return { qemuBin, dir, kernel, initrd, runtimeDir, runtimeImage: image, accel: kvm.usable ? 'kvm' : 'tcg', kvm };
}
