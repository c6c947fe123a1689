// Booting a machine and connecting to its harness, for instances, tasks and the warm pool alike: machine
// ids, the default shape, and what a boot may set beyond it (each with a default).
import crypto from 'node:crypto';
import type { Machine } from '../vmm/backend.js';
import { ControlClient } from '../vmm/channel/control-client.js';
import type { MachineHost } from '../vmm/machine-host.js';
import type { NetworkPolicy } from '../resources/network-policy.js';

/** The shape of a machine whose workload asks for none (and of the warm pool's). */
export const DEFAULT_MEMORY_MIB = 512;
export const DEFAULT_VCPUS = 1;

export interface BootedMachine {
  machine: Machine;
  client: ControlClient;
}

export interface MachineShape {
  memoryMiB: number;
  vcpus: number;
}

export const newMachineId = () => `mach-${Date.now().toString(16)}${crypto.randomBytes(5).toString('hex')}`;

/** What a boot may set beyond the shape; every field has a default (base rootfs, hostname = machine id). */
export interface BootOptions {
  /** Read-only layers, lowest first (default: the base rootfs). */
  layers?: string[];
  hostname?: string;
  workspaceDir?: string;
  /** Keeps the writable layer beyond the machine (MachineSpec.stateDir). */
  stateDir?: string;
  /** MachineSpec.snapshotKey: which saved memory snapshot in stateDir may be resumed. */
  snapshotKey?: string;
  /** Where the machine may connect to (default: egress all). */
  network?: NetworkPolicy;
  id?: string;
  /** Told the machine as soon as it exists, before the (possibly long) wait for its harness. */
  onStarted?: (machine: Machine) => void;
}

/** The control channel of a machine: waits up to timeoutMs for its harness to listen and answer. */
export async function connectMachine(machine: Machine, timeoutMs: number): Promise<ControlClient> {
  return ControlClient.connect(await machine.connect(timeoutMs), { timeoutMs });
}

/** Boots a machine and connects to its harness; on failure nothing is left running. */
export async function bootMachine(host: MachineHost, shape: MachineShape, opts: BootOptions = {}): Promise<BootedMachine> {
  const id = opts.id ?? newMachineId();
  const machine = await host.backend.start({
    id,
    hostname: opts.hostname ?? id,
    rootfsLayers: opts.layers ?? [host.baseRootfs],
    ...shape,
    ...(opts.workspaceDir ? { workspaceDir: opts.workspaceDir } : {}),
    ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
    ...(opts.snapshotKey ? { snapshotKey: opts.snapshotKey } : {}),
    ...(opts.network ? { network: opts.network } : {}),
  });
  opts.onStarted?.(machine);
  try {
    return { machine, client: await connectMachine(machine, host.backend.bootTimeoutMs) };
  } catch (err) {
    await machine.stop(0).catch(() => undefined);
    await host.backend.destroy(id).catch(() => undefined);
    throw err;
  }
}

/**
 * Stops and removes a machine an earlier daemon left behind (its instance or task is gone, or its output
 * stream with that daemon); best effort: a machine already gone, or no backend, leaves nothing to do.
 */
export async function stopLeftover(host: () => Promise<MachineHost>, id: string | undefined): Promise<void> {
  if (!id) return;
  try {
    const { backend } = await host();
    const machine = await backend.adopt(id);
    await machine?.stop(1000);
    await backend.destroy(id);
  } catch {
    /* nothing left to stop */
  }
}
