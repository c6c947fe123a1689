// What this host can hold: its memory and CPUs, and the check that one machine's size fits them at all.
import os from 'node:os';
import { overCapacity } from '../errors/codes.js';

export interface HostSize {
  memoryMiB: number;
  cpus: number;
}

export interface MachineSize {
  memoryMiB: number;
  vcpus: number;
}

export function hostSize(): HostSize {
  return { memoryMiB: Math.floor(os.totalmem() / 1024 ** 2), cpus: os.availableParallelism() };
}

export const describeHost = (host: HostSize) => `${host.memoryMiB} MiB of memory, ${host.cpus} CPU${host.cpus === 1 ? '' : 's'}`;

/** Why a machine of this size can never run here (more memory than the host has, more vCPUs than its CPUs), or undefined. */
export function hostMisfit(size: MachineSize, host: HostSize = hostSize()): string | undefined {
  const asked = size.memoryMiB > host.memoryMiB ? `${size.memoryMiB} MiB of memory` : size.vcpus > host.cpus ? `${size.vcpus} vCPUs` : undefined;
  return asked && `a machine with ${asked} cannot run on this host (${describeHost(host)})`;
}

/** Refuses a machine larger than the host, whatever the overcommit: it could only thrash or be killed. */
export function assertFitsHost(size: MachineSize, host: HostSize = hostSize()): void {
  const why = hostMisfit(size, host);
  if (why) throw overCapacity(why);
}
