// Host checks for `aegis doctor` that need no daemon: tools and libraries found on disk or in PATH.
import fs from 'node:fs';
import { which } from '../../util/which.js';
import { describeLibrary, findLibkrun, inspectLibrary, LIBKRUN_INSTALL_HINT } from '../../vmm/libkrun/probe.js';

export interface HostCheck {
  label: string;
  ok: boolean;
  /** What was found, or what is missing and how to get it. */
  detail: string;
  /** Optional checks never make doctor fail. */
  optional?: boolean;
}

const MIN_NODE = [20, 18, 1];

function nodeCheck(): HostCheck {
  const v = process.versions.node.split('.').map(Number);
  const ok = v[0] > MIN_NODE[0] || (v[0] === MIN_NODE[0] && (v[1] > MIN_NODE[1] || (v[1] === MIN_NODE[1] && v[2] >= MIN_NODE[2])));
  return { label: 'Node', ok, detail: ok ? `v${process.versions.node}` : `v${process.versions.node} (needs >= ${MIN_NODE.join('.')})` };
}

function toolCheck(label: string, cmd: string, pkg: string, optional = false): HostCheck {
  const found = which(cmd);
  return { label, ok: !!found, optional, detail: found ? 'found' : `not found (install ${pkg})` };
}

/** The libkrun row: where the library is and whether it is usable (looked at by the libkrun worker's probe, not loaded here). */
function libkrunCheck(): HostCheck {
  const found = findLibkrun();
  if (!found.library) return { label: 'libkrun', ok: false, optional: true, detail: process.env.AEGIS_LIBKRUN ? found.problem! : `not found (optional; ${LIBKRUN_INSTALL_HINT})` };
  const lib = describeLibrary(inspectLibrary(found.library));
  return { label: 'libkrun', ok: lib.usable, optional: true, detail: lib.detail };
}

/** Where distributions keep shared libraries (multiarch first). */
const LIBRARY_DIRS = [`/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`, `/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`, '/usr/lib64', '/lib64', '/usr/lib', '/lib'];

function libseccompCheck(): HostCheck {
  const found = LIBRARY_DIRS.map((d) => `${d}/libseccomp.so.2`).find((p) => fs.existsSync(p));
  return { label: 'seccomp', ok: !!found, detail: found ? 'libseccomp found' : 'libseccomp not found (install libseccomp2: sandbox machines need it for their system call filter)' };
}

/** Sandbox guests get a user namespace each (guest root = an unprivileged host uid): the kernel must allow them. */
function userNamespaceCheck(): HostCheck {
  let max: number | undefined;
  try {
    max = Number(fs.readFileSync('/proc/sys/user/max_user_namespaces', 'utf8').trim());
  } catch {
    /* no user namespaces at all */
  }
  if (max === undefined || !fs.existsSync('/proc/self/ns/user')) return { label: 'userns', ok: false, optional: true, detail: 'not in this kernel: sandbox machines refuse to start (guest root would be host root) unless sandbox.allowHostRoot is set' };
  if (max === 0) return { label: 'userns', ok: false, optional: true, detail: 'disabled (user.max_user_namespaces = 0): sandbox machines refuse to start (guest root would be host root) unless sandbox.allowHostRoot is set' };
  return { label: 'userns', ok: true, optional: true, detail: 'enabled (sandbox guest root is an unprivileged host uid)' };
}

export function hostChecks(): HostCheck[] {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p));
  return [
    nodeCheck(),
    libkrunCheck(),
    toolCheck('qemu', 'qemu-system-x86_64', 'qemu-system-x86', true),
    toolCheck('unshare', 'unshare', 'util-linux'),
    { label: 'busybox', ok: !!busybox, detail: busybox ? 'found' : 'not found (install busybox-static: the base rootfs is built from it)' },
    toolCheck('e2fsprogs', 'mkfs.ext4', 'e2fsprogs'),
    libseccompCheck(),
    userNamespaceCheck(),
  ];
}
