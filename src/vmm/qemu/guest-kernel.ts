// The guest kernel: Debian's cloud kernel package, downloaded with apt and unpacked into $AEGIS_HOME
// (never installed as the host's kernel), keeping only the bzImage and the modules the guest loads.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { unavailable } from '../../errors/codes.js';
import { buildOnce } from '../build-once.js';
import { resolveModules } from './kernel-modules.js';

/** The meta package that always depends on the current versioned cloud kernel. */
export const KERNEL_META_PACKAGE = 'linux-image-cloud-amd64';

/**
 * What the initramfs loads: the virtio-mmio transport, the block, console (virtio-serial) and network
 * drivers and overlayfs for the writable layer. ext4 and its helpers are built into this kernel;
 * dependencies are added from the modules' own metadata whatever the kernel's config.
 */
export const GUEST_MODULES = ['virtio_ring', 'virtio', 'virtio_mmio', 'virtio_blk', 'virtio_console', 'virtio_net', 'ext4', 'overlay'];
/** Part of the cache dir's name: a changed module list unpacks the package again. */
const MODULES_KEY = crypto.createHash('sha256').update(GUEST_MODULES.join(',')).digest('hex').slice(0, 8);

export interface GuestKernel {
  dir: string;
  /** The bzImage to hand to `-kernel`. */
  kernel: string;
  /** `uname -r` of the guest. */
  release: string;
  /** Module names in insmod order; their files are `modules/<name>.ko`. */
  modules: string[];
}

interface KernelInfo {
  package: string;
  version: string;
  release: string;
  modules: string[];
}

// Asynchronous: the daemon prepares backends while it serves requests, and a download takes seconds.
const run = async (cmd: string, args: string[], cwd?: string) => (await promisify(execFile)(cmd, args, { encoding: 'utf8', cwd })).stdout;

/** The versioned kernel package the meta package points at, and its candidate version. */
export async function currentKernelPackage(): Promise<{ pkg: string; version: string }> {
  let depends: string;
  try {
    depends = await run('apt-cache', ['depends', KERNEL_META_PACKAGE]);
  } catch {
    throw unavailable(`apt-cache does not know ${KERNEL_META_PACKAGE} (run apt-get update; the qemu guest kernel comes from it)`);
  }
  const pkg = /Depends: (linux-image-\S+)/.exec(depends)?.[1];
  if (!pkg) throw unavailable(`${KERNEL_META_PACKAGE} names no versioned kernel package`);
  const version = /^Version: (\S+)/m.exec(await run('apt-cache', ['show', '--no-all-versions', pkg]))?.[1] ?? 'unknown';
  return { pkg, version };
}

export function readGuestKernel(dir: string): GuestKernel {
  const info = JSON.parse(fs.readFileSync(path.join(dir, 'kernel.json'), 'utf8')) as KernelInfo;
  return { dir, kernel: path.join(dir, 'vmlinuz'), release: info.release, modules: info.modules };
}

/** Downloads and unpacks the guest kernel once per package version; reuses a cached one when apt cannot answer. */
export async function provisionGuestKernel(qemuDir: string): Promise<GuestKernel> {
  let wanted: { pkg: string; version: string };
  try {
    wanted = await currentKernelPackage();
  } catch (err) {
    // Offline or without apt lists: any kernel built earlier is still good.
    const cached = fs.existsSync(qemuDir) ? fs.readdirSync(qemuDir).filter((d) => d.startsWith('kernel-')).sort() : [];
    if (cached.length > 0) return readGuestKernel(path.join(qemuDir, cached[cached.length - 1]));
    throw err;
  }
  const dir = await buildOnce(path.join(qemuDir, `kernel-${wanted.pkg}-${wanted.version.replace(/[^A-Za-z0-9.+-]/g, '_')}-${MODULES_KEY}`), async (tmp) => {
    const download = path.join(tmp, 'download');
    const unpacked = path.join(tmp, 'unpacked');
    fs.mkdirSync(download);
    // As root apt would hand the download to the _apt user, who cannot write into our 0700 dir.
    await run('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', `${wanted.pkg}=${wanted.version}`], download);
    const deb = fs.readdirSync(download).find((f) => f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${wanted.pkg} produced no .deb`);
    await run('dpkg-deb', ['-x', path.join(download, deb), unpacked]);
    const vmlinuz = fs.readdirSync(path.join(unpacked, 'boot')).find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuz) throw new Error(`${deb} has no /boot/vmlinuz-*`);
    const release = vmlinuz.slice('vmlinuz-'.length);
    const moduleDir = path.join(unpacked, 'lib', 'modules', release);
    const modules = resolveModules(moduleDir, GUEST_MODULES);
    fs.copyFileSync(path.join(unpacked, 'boot', vmlinuz), path.join(tmp, 'vmlinuz'));
    fs.mkdirSync(path.join(tmp, 'modules'));
    for (const m of modules) fs.copyFileSync(m.file, path.join(tmp, 'modules', `${m.name}.ko`));
    const info: KernelInfo = { package: wanted.pkg, version: wanted.version, release, modules: modules.map((m) => m.name) };
    fs.writeFileSync(path.join(tmp, 'kernel.json'), JSON.stringify(info, null, 2) + '\n');
    fs.rmSync(download, { recursive: true, force: true });
    fs.rmSync(unpacked, { recursive: true, force: true });
  });
  return readGuestKernel(dir);
}
