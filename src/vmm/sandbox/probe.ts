// Can the sandbox backend run here? Root, util-linux + iproute2 tools, overlayfs, usable cgroup memory +
// freezer, libseccomp for the system call filter, and user namespaces with idmapped mounts (else guest root
// would be host root: refused unless sandbox.allowHostRoot says otherwise).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { which } from '../../util/which.js';
import type { BackendProbe } from '../backend.js';
import { cgroupVersion } from './cgroups.js';
import { cloneDirectory } from './detached-mounts.js';
import { mountIdMaps, rangeOf } from './id-ranges.js';
import { sandboxSeccompFilter } from './seccomp-filter.js';
import { createUserNamespace } from './user-namespace.js';

export interface SandboxProbe extends BackendProbe {
  /** Guest root must be host root here (no usable user namespaces), and sandbox.allowHostRoot accepts that. */
  hostRoot: boolean;
}

export interface SandboxProbeOptions {
  /** $AEGIS_HOME/data: idmapped mounts must work on its filesystem. */
  dataDir: string;
  /** sandbox.allowHostRoot in config.yaml. */
  allowHostRoot?: boolean;
}

/** overlayfs takes idmapped layers from Linux 5.19 on. */
const MIN_KERNEL_FOR_IDMAPPED_LAYERS = [5, 19];
import { guestNetworkSupport } from './guest-network.js';

const TOOLS: [string, string][] = [
  ['unshare', 'util-linux'],
  ['nsenter', 'util-linux'],
  ['setpriv', 'util-linux'],
  ['mount', 'mount'],
  ['pivot_root', 'util-linux'],
  ['ip', 'iproute2'],
];

export async function probeSandbox(opts: SandboxProbeOptions): Promise<SandboxProbe> {
  const base = await probeBasics();
  if (!base.available) return { ...base, hostRoot: false };
  return identityOutcome(base, await userNamespaceProblem(opts.dataDir), opts.allowHostRoot ?? false);
}

/**
 * What the backend may do given why guests could not have a user namespace (if they cannot): run them
 * as an unprivileged host uid range, run them as host root because the setting says so, or refuse.
 */
export function identityOutcome(base: BackendProbe, usernsProblem: string | undefined, allowHostRoot: boolean): SandboxProbe {
  if (!usernsProblem) return { available: true, hostRoot: false, detail: `${base.detail}, guest root an unprivileged host uid (user namespace), seccomp (not a VM: the guest shares the host kernel)` };
  if (allowHostRoot) return { available: true, hostRoot: true, detail: `${base.detail}, seccomp; GUEST ROOT IS HOST ROOT (sandbox.allowHostRoot: ${usernsProblem}) (not a VM)` };
  return { available: false, hostRoot: false, detail: `${usernsProblem}: guest root would be host root (set sandbox.allowHostRoot: true in config.yaml to accept that)` };
}

async function probeBasics(): Promise<BackendProbe> {
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
  try {
    sandboxSeccompFilter();
  } catch (err) {
    return { available: false, detail: (err as Error).message };
  }
  return { available: true, detail: `namespaces, overlayfs, cgroup v${version} (not a VM: the guest shares the host kernel); ${guestNetworkSupport().detail}` };
}

/** Why guests cannot get a user namespace of their own with idmapped mounts here, or undefined when they can. */
export async function userNamespaceProblem(dataDir: string): Promise<string | undefined> {
  if (!fs.existsSync('/proc/self/ns/user')) return 'the kernel has no user namespaces';
  const max = readNumber('/proc/sys/user/max_user_namespaces');
  if (max === 0) return 'user namespaces are disabled (user.max_user_namespaces = 0)';
  const [major, minor] = os.release().split('.').map(Number);
  const [wantMajor, wantMinor] = MIN_KERNEL_FOR_IDMAPPED_LAYERS;
  if (major < wantMajor || (major === wantMajor && minor < wantMinor)) return `Linux ${os.release()} cannot give overlayfs idmapped layers (needs ${wantMajor}.${wantMinor})`;
  let userns: number;
  try {
    userns = await createUserNamespace(mountIdMaps(rangeOf(0)));
  } catch (err) {
    return `cannot make a user namespace: ${(err as Error).message}`;
  }
  try {
    fs.closeSync(cloneDirectory(dataDir, { idmapUserns: userns }));
  } catch (err) {
    return `the filesystem of ${dataDir} takes no idmapped mounts (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  } finally {
    fs.closeSync(userns);
  }
  return undefined;
}

function readNumber(file: string): number | undefined {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim());
  } catch {
    return undefined;
  }
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
