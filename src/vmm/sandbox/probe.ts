// Can the sandbox backend run here? Root, unshare, overlayfs, iproute2 and cgroup memory + freezer.
import fs from 'node:fs';
import { which } from '../../util/which.js';
import type { BackendProbe } from '../backend.js';
import { cgroupVersion } from './cgroups.js';

export async function probeSandbox(): Promise<BackendProbe> {
  if (process.platform !== 'linux') return { available: false, detail: 'needs Linux namespaces' };
  if (process.getuid?.() !== 0) return { available: false, detail: 'needs root (mounts, namespaces and cgroups)' };
  const missing = [
    ['unshare', 'util-linux'],
    ['pivot_root', 'util-linux'],
    ['ip', 'iproute2'],
  ]
    .filter(([cmd]) => !which(cmd))
    .map(([cmd, pkg]) => `${cmd} (${pkg})`);
  if (missing.length) return { available: false, detail: `missing ${missing.join(', ')}` };
  if (!fs.readFileSync('/proc/filesystems', 'utf8').includes('\toverlay\n')) return { available: false, detail: 'overlayfs is not available (modprobe overlay)' };
  const version = cgroupVersion();
  if (!version) return { available: false, detail: 'no cgroup memory and freezer controllers found under /sys/fs/cgroup' };
  return { available: true, detail: `namespaces, overlayfs, cgroup v${version} (not a VM)` };
}
