// Can the qemu backend run here, and how fast: with KVM only when a probe boot proved it, else TCG
// (software emulation: every boot takes seconds). Never boots anything itself: the boot probe runs
// when the backend is prepared, and its cached verdict is what later probes report.
import fs from 'node:fs';
import type { AegisPaths } from '../../config/paths.js';
import type { BackendProbe } from '../backend.js';
import { which } from '../../util/which.js';
import { cachedKvmVerdict, kvmDeviceAccessible } from './kvm-probe.js';
import { egressFilterSupport } from '../network/egress-filter.js';
import { probeConfinement } from './qemu-confinement.js';

export interface QemuProbe extends BackendProbe {
  /** True only when a KVM boot succeeded here: the only case in which qemu is picked without being asked for. */
  kvm: boolean;
}

const TCG = 'TCG (software emulation, slow boots)';

export async function probeQemu(paths?: AegisPaths): Promise<QemuProbe> {
  const bin = which('qemu-system-x86_64');
  if (!bin) return { available: false, kvm: false, detail: 'qemu-system-x86_64 not found (apt-get install qemu-system-x86 qemu-utils)' };
  const confinement = await probeConfinement(bin);
  if (!confinement.ok) return { available: false, kvm: false, detail: confinement.detail };
  const probe = await probeAccel(bin, paths);
  return { ...probe, detail: `${probe.detail}; ${networkDetail()}; sandboxed: ${confinement.detail}` };
}

/** What the guests' network is: internet only where the egress filter loads, else none. */
function networkDetail(): string {
  const egress = egressFilterSupport();
  return egress.supported
    ? "network: internet only, or what the machine's policy lists (host and private addresses blocked by a per-VM cgroup BPF filter, DNS only to the host's resolvers or the machine's gate)"
    : `no network: ${egress.detail}`;
}

async function probeAccel(bin: string, paths?: AegisPaths): Promise<QemuProbe> {
  if (!kvmDeviceAccessible()) return { available: true, kvm: false, detail: `${bin}, ${TCG}: /dev/kvm is missing or not accessible` };
  const verdict = paths ? cachedVerdict(paths, bin) : undefined;
  if (!verdict) return { available: true, kvm: false, detail: `${bin}, ${TCG}: /dev/kvm exists but no KVM boot has been tried yet (AEGIS_BACKEND=qemu tries one)` };
  return verdict.usable
    ? { available: true, kvm: true, detail: `${bin}, KVM (${verdict.detail})` }
    : { available: true, kvm: false, detail: `${bin}, ${TCG}: ${verdict.detail}` };
}

/** The verdict of the last KVM probe boot with any provisioned guest kernel. */
function cachedVerdict(paths: AegisPaths, bin: string) {
  const dir = `${paths.data}/qemu`;
  const kernels = fs.existsSync(dir) ? fs.readdirSync(dir).filter((d) => d.startsWith('kernel-')).sort() : [];
  const newest = kernels[kernels.length - 1];
  return newest ? cachedKvmVerdict(dir, bin, `${dir}/${newest}/vmlinuz`) : undefined;
}
