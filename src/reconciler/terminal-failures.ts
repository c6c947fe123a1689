// A reconcile that threw a TerminalError: the object is marked failed (Ready False with the error's reason
// and message, for the generation it failed on) and is not reconciled again, by events or resyncs, until its
// spec changes (a new generation) or it is being deleted (its finalizer must still run).
import { TerminalError } from '../errors/terminal-error.js';
import { READY, setCondition, type Condition } from '../resources/conditions.js';
import type { Kind } from '../resources/kinds.js';
import type { Store } from '../store/store.js';
import type { Reconcile } from './controller.js';

type Status = { conditions?: Condition[]; observedGeneration?: number };

export function stopOnTerminal(store: Store, kind: Kind, reconcile: Reconcile<string>): Reconcile<string> {
  /** By name: the uid and generation that failed for good (a new object of the same name is not skipped). */
  const failed = new Map<string, { uid: string; generation: number }>();
  return async (name, ctx) => {
    const cur = store.get(kind, name);
    const f = failed.get(name);
    if (cur && f && f.uid === cur.metadata.uid && f.generation === cur.metadata.generation && !cur.metadata.deletionTimestamp) return;
    failed.delete(name);
    try {
      return await reconcile(name, ctx);
    } catch (err) {
      if (err instanceof TerminalError) markFailed(store, kind, name, err, failed);
      throw err;
    }
  };
}

function markFailed(store: Store, kind: Kind, name: string, err: TerminalError, failed: Map<string, { uid: string; generation: number }>): void {
  const cur = store.get<Record<string, unknown>, Status>(kind, name);
  if (!cur || cur.metadata.deletionTimestamp) return;
  failed.set(name, { uid: cur.metadata.uid, generation: cur.metadata.generation });
  store.updateStatus(kind, cur.metadata.uid, {
    ...cur.status,
    observedGeneration: cur.metadata.generation,
    conditions: setCondition(cur.status.conditions ?? [], { type: READY, status: 'False', reason: err.reason, message: err.message }, new Date()),
  });
}
