// Ext4 disk images for the guest, made from directories with `mkfs.ext4 -d` (no loop mounts, no root
// needed): read-only ones cached (the runtime once per runtime build, a rootfs once per set of layers),
// writable ones that outlive machines (an instance's upper layer, an app's workspace).
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { flattenLayers } from '../../images/layers/flatten-layers.js';
import { WHITEOUT_RECORD } from '../../images/layers/unpack-layer.js';
import { unavailable } from '../../errors/codes.js';
import { which } from '../../util/which.js';
import { buildOnce } from '../build-once.js';
import { stateDiskPath, writableDisk } from '../rootfs/writable-disk.js';

const IMAGE = 'disk.ext4';

/** Bytes and inodes a directory tree needs (files by size, everything else by one block). */
function treeSize(dir: string): { bytes: number; inodes: number } {
  let bytes = 0;
  let inodes = 1;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p);
      inodes++;
      bytes += Math.ceil(st.size / 4096) * 4096 + 4096;
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return { bytes, inodes };
}

/** Writes an ext4 image of `srcDir` to `image`, sized to fit with some slack, without a journal (it is mounted read-only). */
export async function makeExt4Image(srcDir: string, image: string): Promise<void> {
  const mkfs = which('mkfs.ext4');
  if (!mkfs) throw unavailable('mkfs.ext4 is not installed: apt-get install e2fsprogs');
  const { bytes, inodes } = treeSize(srcDir);
  const sizeKiB = Math.ceil((bytes * 1.1 + inodes * 256 + 16 * 1024 * 1024) / 1024);
  await promisify(execFile)(mkfs, ['-q', '-F', '-O', '^has_journal', '-N', String(Math.ceil(inodes * 1.1) + 64), '-d', srcDir, image, `${sizeKiB}k`]);
}

/** The writable ext4 disk in `stateDir` that holds a machine's upper layer, made (empty, sparse) on first use. */
export async function stateDisk(stateDir: string, sizeMiB?: number): Promise<string> {
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  return writableDisk(stateDiskPath(stateDir), { sizeMiB });
}

export { stateDiskPath };

/**
 * An app's /workspace for VMs: a disk beside the workspace directory (`<dir>.ext4`), made on first use
 * with whatever the directory holds. From then on the disk is the workspace; the directory is not synced.
 */
export async function workspaceDisk(workspaceDir: string): Promise<string> {
  return writableDisk(workspaceDiskPath(workspaceDir), fs.existsSync(workspaceDir) ? { seedDir: workspaceDir } : {});
}

export const workspaceDiskPath = (workspaceDir: string) => `${path.resolve(workspaceDir)}.ext4`;

/** The runtime dir (node, its libraries, the harness) as a disk, built once per runtime dir. */
export async function runtimeImage(qemuDir: string, runtimeDir: string): Promise<string> {
  const dir = await buildOnce(path.join(qemuDir, `runtime-${path.basename(runtimeDir)}`), (tmp) => makeExt4Image(runtimeDir, path.join(tmp, IMAGE)));
  return path.join(dir, IMAGE);
}

/** A machine's rootfs layers (lowest first) merged into one disk, built once per list of layer paths. */
export async function rootfsImage(qemuDir: string, layers: string[]): Promise<string> {
  const key = crypto.createHash('sha256').update(JSON.stringify(layers.map((l) => path.resolve(l)))).digest('hex').slice(0, 16);
  const dir = await buildOnce(path.join(qemuDir, 'rootfs', key), async (tmp) => {
    // A lone plain directory (the base rootfs) needs no merge; an image layer may carry whiteout markers.
    if (layers.length === 1 && !fs.existsSync(path.join(layers[0], WHITEOUT_RECORD))) {
      await makeExt4Image(layers[0], path.join(tmp, IMAGE));
    } else {
      // mkfs.ext4 -d takes one directory: merge the layers (whiteouts applied) first, then drop the copy.
      const merged = path.join(tmp, 'merged');
      await flattenLayers(layers, merged);
      await makeExt4Image(merged, path.join(tmp, IMAGE));
      fs.rmSync(merged, { recursive: true, force: true });
    }
    fs.writeFileSync(path.join(tmp, 'layers.json'), JSON.stringify(layers, null, 2) + '\n');
  });
  return path.join(dir, IMAGE);
}

/**
 * Deletes cached disks built from things that are gone: rootfs images whose layers were removed (image
 * rm/prune) and runtime images of runtimes that were replaced. A running VM keeps its open image file.
 */
export function removeOrphanImages(qemuDir: string, currentRuntimeDir: string): string[] {
  const removed: string[] = [];
  const rootfsDir = path.join(qemuDir, 'rootfs');
  for (const key of fs.existsSync(rootfsDir) ? fs.readdirSync(rootfsDir) : []) {
    if (key.includes('.tmp-')) continue;
    let layers: string[];
    try {
      layers = JSON.parse(fs.readFileSync(path.join(rootfsDir, key, 'layers.json'), 'utf8')) as string[];
    } catch {
      continue; // not finished by this code: leave it
    }
    if (layers.every((l) => fs.existsSync(l))) continue;
    fs.rmSync(path.join(rootfsDir, key), { recursive: true, force: true });
    removed.push(key);
  }
  const current = `runtime-${path.basename(currentRuntimeDir)}`;
  for (const entry of fs.existsSync(qemuDir) ? fs.readdirSync(qemuDir) : []) {
    if (!entry.startsWith('runtime-') || entry === current || entry.includes('.tmp-')) continue;
    fs.rmSync(path.join(qemuDir, entry), { recursive: true, force: true });
    removed.push(entry);
  }
  return removed;
}
