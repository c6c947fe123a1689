// Can the qemu backend run here? Reports what was found; the backend itself is not built yet.
import type { BackendProbe } from '../backend.js';
import { which } from '../../util/which.js';

export async function probeQemu(): Promise<BackendProbe> {
  const bin = which('qemu-system-x86_64');
  return bin
    ? { available: false, detail: `${bin} found, but the qemu backend is not implemented in this build` }
    : { available: false, detail: 'qemu-system-x86_64 not found (apt-get install qemu-system-x86)' };
}
