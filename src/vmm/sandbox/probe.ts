// Can the sandbox backend run here? Root, util-linux + iproute2 tools, overlayfs and usable cgroup memory + freezer.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { which } from '../../util/which.js';
import type { BackendProbe } from '../backend.js';
import { cgroupVersion } from './cgroups.js';
import { guestNetworkSupport } from './guest-network.js';

const TOOLS: [string, string][] = [
  ['unshare', 'util-linux'],
  ['nsenter', 'util-linux'],
  ['setpriv', 'util-linux'],
  ['mount', 'mount'],
  ['pivot_root', 'util-linux'],
  ['ip', 'iproute2'],
];

export async function probeSandbox(): Promise<BackendProbe> {
  if (process.platform !== 'linux') return { available: false, detail: 'needs Linux namespaces' };
  // Mounts, pivot_root and cgroup writes need real root; user namespaces alone cannot set cgroup limits.
  if (process.getuid?.() !== 0) return { available: false, detail: 'needs root (mounts, namespaces and cgroups)' };
  const missing = TOOLS.filter(([cmd]) => !which(cmd)).map(([cmd, pkg]) => `${cmd} (${pkg})`);
  if (missing.length) return { available: false, detail: `missing ${missing.join(', ')}` };
  if (!fs.readFileSync('/proc/filesystems', 'utf8').includes('\toverlay\n')) return { available: false, detail: 'overlayfs is not available (modprobe overlay)' };
  for (const ns of ['pid', 'mnt', 'net', 'ipc', 'uts']) {
    if (!fs.existsSync(`/proc/self/ns/${ns}`)) return { available: false, detail: `the kernel has no ${ns} namespaces` };
  }
  const version = cgroupVersion();
  if (!version) return { available: false, detail: 'no cgroup memory and freezer controllers found under /sys/fs/cgroup' };
  const cgroupProblem = version === 2 ? checkV2() : checkV1();
  if (cgroupProblem) return { available: false, detail: cgroupProblem };
  return { available: true, detail: `namespaces, overlayfs, cgroup v${version} (not a VM: the guest shares the host kernel); ${guestNetworkSupport().detail}` };
}

function checkV1(): string | undefined {
  for (const c of ['memory', 'freezer', 'cpu', 'pids']) {
    const dir = path.join('/sys/fs/cgroup', c);
    if (!fs.existsSync(path.join(dir, 'cgroup.procs'))) return `cgroup v1 controller ${c} is not mounted at ${dir}`;
    if (!writable(dir)) return `cgroup v1 controller ${c} at ${dir} is read-only`;
  }
  return undefined;
}

function checkV2(): string | undefined {
  const root = '/sys/fs/cgroup';
  const controllers = fs.readFileSync(path.join(root, 'cgroup.controllers'), 'utf8').split(/\s+/);
  const absent = ['memory', 'cpu', 'pids'].filter((c) => !controllers.includes(c));
  if (absent.length) return `cgroup v2 lacks the ${absent.join(', ')} controller(s)`;
  // cgroup.freeze exists only in non-root groups, so it cannot be looked for here; the kernel has it since 5.2.
  const [major, minor] = os.release().split('.').map(Number);
  if (major < 5 || (major === 5 && minor < 2)) return `cgroup v2 on Linux ${os.release()} has no freezer (needs 5.2)`;
  if (!writable(root)) return `cgroup v2 at ${root} is read-only`;
  return undefined;
}

function writable(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
