// What every backend refuses in a MachineSpec: the id names directories and cgroups, the hostname goes to
// the kernel (on qemu through its command line, so no spaces or quotes), a machine needs a rootfs, and it
// must fit the host.
import { assertFitsHost } from '../config/host-capacity.js';
import { invalid } from '../errors/codes.js';
import type { MachineSpec } from './backend.js';

export function checkMachineSpec(spec: MachineSpec): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(spec.id)) throw invalid(`machine id ${JSON.stringify(spec.id)} must be letters, digits, '.', '_' or '-'`);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/.test(spec.hostname)) throw invalid(`hostname ${JSON.stringify(spec.hostname)} is not a valid host name`);
  if (spec.rootfsLayers.length === 0) throw invalid('a machine needs at least one rootfs layer');
  assertFitsHost(spec);
}
