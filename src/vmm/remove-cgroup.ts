// rmdir of a cgroup, retried while the kernel still counts it busy: its last tasks are exiting (or, with
// `beforeTry`, being killed). The sandbox's machine groups and the egress filter's groups both go this way.
import fs from 'node:fs';

const BUSY_DEADLINE_MS = 2_000;

export async function removeCgroup(dir: string, beforeTry?: () => void): Promise<void> {
  const deadline = Date.now() + BUSY_DEADLINE_MS;
  for (;;) {
    beforeTry?.();
    try {
      fs.rmdirSync(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() > deadline) throw new Error(`cannot remove cgroup ${dir}: ${code ?? (e as Error).message}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
