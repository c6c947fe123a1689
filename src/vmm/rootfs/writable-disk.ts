// Writable ext4 disks that bound what a machine can write: its rootfs changes (the upper layer of its
// overlay) live on a sparse disk of a fixed size, so a guest that fills it gets ENOSPC, not the host's disk.
// qemu attaches the disk to the VM; the sandbox loop-mounts it inside the machine's mount namespace.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { unavailable } from '../../errors/codes.js';
import { which } from '../../util/which.js';

/** Default size of a writable disk: sparse, so only what the guest writes takes host space. */
export const DEFAULT_WRITABLE_DISK_MIB = 4096;

export interface WritableDiskOptions {
  sizeMiB?: number;
  /** Files the new disk starts with (mkfs.ext4 -d copies the tree, devices and xattrs included). */
  seedDir?: string;
  /**
   * A journal keeps a disk mountable after its writer dies mid-write (a killed VM, a host crash). A
   * machine's throwaway disk, gone with the machine, does without and is made faster.
   */
  journal?: boolean;
}

/** A writable ext4 disk at `image`, made on first use (empty, or holding `seedDir`'s files); made whole or not at all. */
export async function writableDisk(image: string, opts: WritableDiskOptions = {}): Promise<string> {
  if (fs.existsSync(image)) return image;
  const mkfs = which('mkfs.ext4');
  if (!mkfs) throw unavailable('mkfs.ext4 is not installed: apt-get install e2fsprogs');
  const tmp = `${image}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.closeSync(fs.openSync(tmp, 'w', 0o600));
  fs.truncateSync(tmp, (opts.sizeMiB ?? DEFAULT_WRITABLE_DISK_MIB) * 1024 * 1024);
  const features = opts.journal === false ? ['-O', '^has_journal'] : [];
  // Lazy init: the inode tables and journal of a sparse disk are zeroed on first use, not written now.
  const args = ['-q', '-F', '-m', '0', '-E', 'lazy_itable_init=1,lazy_journal_init=1,nodiscard', ...features, ...(opts.seedDir ? ['-d', opts.seedDir] : []), tmp];
  await promisify(execFile)(mkfs, args);
  fs.renameSync(tmp, image);
  return image;
}

/** Where a machine's state dir keeps its writable disk (the same on every backend). */
export const stateDiskPath = (stateDir: string) => path.join(stateDir, 'upper.ext4');
