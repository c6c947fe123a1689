// File operations in a serving instance, reached as exec reaches it (instance-exec.ts): a paused instance
// resumes, a starting one is waited for, a stopped one is refused; it stays awake while the operation
// lasts, and the operation runs as its server does.
import { conflict } from '../errors/codes.js';
import type { InstanceRuntime } from './instance-runtime.js';
import type { FilesTarget } from './machine-files.js';

export function instanceFilesTarget(runtime: InstanceRuntime | undefined, label: string): FilesTarget {
  const stopped = () => conflict(`instance ${label} is stopped; it starts again on its next connection (or: aegis app serve)`);
  return {
    label,
    open: async () => {
      if (!runtime) throw stopped();
      const client = await runtime.wakeIfAlive();
      if (!client) throw stopped();
      const release = runtime.hold();
      return { client, ...(runtime.user ? { user: runtime.user } : {}), release, masker: () => runtime.log.outputMasker?.() };
    },
  };
}
