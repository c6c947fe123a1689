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

export function hostChecks(): HostCheck[] {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => fs.existsSync(p));
  return [
    nodeCheck(),
    libkrunCheck(),
    toolCheck('qemu', 'qemu-system-x86_64', 'qemu-system-x86', true),
    toolCheck('unshare', 'unshare', 'util-linux'),
    { label: 'busybox', ok: !!busybox, detail: busybox ? 'found' : 'not found (install busybox-static: the base rootfs is built from it)' },
    toolCheck('e2fsprogs', 'mkfs.ext4', 'e2fsprogs'),
  ];
}
