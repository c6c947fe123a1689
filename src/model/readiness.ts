// Whether a resource is ready, the one answer `aegis apply --wait` (and anything else that waits) gives: its
// status must describe the generation the waiter wrote (observedGeneration), and then its Ready condition must
// hold; an app with `serve: true` is ready once it is served too (its Serving condition), and a waiter then
// waits for the instance serving it (servedInstance).
import { getCondition, READY, SERVING, type Condition } from '../resources/conditions.js';
import type { Kind } from '../resources/kinds.js';

/** Kinds no controller reports on: stored is ready. */
const UNREPORTED: ReadonlySet<Kind> = new Set(['Secret', 'Kit']);

/** Reasons a controller keeps retrying by itself (a boot is tried again after its back-off): not failed yet. */
const RETRIED: ReadonlySet<string> = new Set(['StartFailed']);

export type Readiness = { state: 'ready' } | { state: 'waiting'; why: string } | { state: 'failed'; why: string };

export interface ReadinessSubject {
  kind: Kind;
  metadata: { generation: number };
  spec: { serve?: unknown };
  status: { observedGeneration?: number; conditions?: readonly Condition[]; instance?: string };
}

/** Readiness of `r` for the spec generation `generation` (default: its current one). */
export function readiness(r: ReadinessSubject, generation = r.metadata.generation): Readiness {
  if (UNREPORTED.has(r.kind)) return { state: 'ready' };
  const observed = r.status.observedGeneration;
  if (observed !== generation) return { state: 'waiting', why: `generation ${generation} is not reconciled yet (observed: ${observed ?? 'none'})` };
  const types = r.kind === 'App' && r.spec.serve === true ? [READY, SERVING] : [READY];
  for (const type of types) {
    const c = getCondition(r.status.conditions, type);
    if (c?.status === 'True') continue;
    const why = c ? `${type} ${c.status}: ${c.reason}${c.message ? ` (${c.message})` : ''}` : `no ${type} condition yet`;
    return c?.status === 'False' && !RETRIED.has(c.reason) ? { state: 'failed', why } : { state: 'waiting', why };
  }
  return { state: 'ready' };
}

/** The instance serving an app with `serve: true`, once one does: ready only when it is. */
export function servedInstance(r: ReadinessSubject): string | undefined {
  return r.kind === 'App' && r.spec.serve === true && getCondition(r.status.conditions, SERVING)?.status === 'True' ? r.status.instance : undefined;
}
