// Machines an earlier daemon started but no resource names: it died between starting a machine and
// writing the machine's id into the instance's or task's status (or the machine sat in its warm pool).
// Nothing would ever adopt or stop them, so the next daemon stops them before it boots anything.
import fs from 'node:fs';
import type { Store } from '../store/store.js';
import type { MachineHost } from '../vmm/machine-host.js';
import { stopLeftover } from './boot-machine.js';

/**
 * The machine records in machinesDir that no Instance or Task status names. Call it before this daemon
 * starts any machine: a machine it starts itself is not named yet either.
 */
export function unclaimedMachines(store: Store, machinesDir: string): string[] {
  const claimed = new Set<string>();
  for (const kind of ['Instance', 'Task'] as const) {
    for (const r of store.list<unknown, { machineId?: string }>(kind)) if (r.status.machineId) claimed.add(r.status.machineId);
  }
  const recorded = fs.existsSync(machinesDir) ? fs.readdirSync(machinesDir) : [];
  return recorded.filter((id) => id.startsWith('mach-') && !claimed.has(id));
}

/** Stops and removes the machines, all at once (best effort, as stopLeftover is). */
export async function stopUnclaimed(host: () => Promise<MachineHost>, ids: string[], log: (message: string) => void): Promise<void> {
  await Promise.all(
    ids.map((id) => {
      log(`stopping machine ${id}: an earlier daemon started it, but no instance or task names it`);
      return stopLeftover(host, id);
    }),
  );
}
