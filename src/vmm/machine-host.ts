// What a controller needs to boot machines: the chosen backend and the base rootfs it boots by default.
import type { Backend } from './backend.js';

export interface MachineHost {
  backend: Backend;
  /** The busybox rootfs used when a workload names no image. */
  baseRootfs: string;
}
