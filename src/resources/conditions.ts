// Status conditions (`Ready` and friends): their schema, the transition-aware setter, and readers.
import { z } from 'zod';

export const READY = 'Ready';
/** An app with `serve: true`: whether an instance serves it. */
export const SERVING = 'Serving';

export const conditionStatusSchema = z.enum(['True', 'False', 'Unknown']);
export type ConditionStatus = z.infer<typeof conditionStatusSchema>;

const CAMEL_CASE = /^[A-Z][A-Za-z0-9]*$/;

export const conditionSchema = z
  .strictObject({
    type: z.string().regex(CAMEL_CASE).describe('CamelCase condition name; `Ready` is the summary.'),
    status: conditionStatusSchema.describe('True, False or Unknown.'),
    reason: z
      .string()
      .regex(/^([A-Z][A-Za-z0-9]*)?$/)
      .describe('One-word CamelCase cause, e.g. `MissingSecrets`, `PullFailed`.'),
    message: z.string().describe('A sentence for humans.'),
    lastTransitionTime: z.iso.datetime().describe('ISO-8601 time at which `status` last changed.'),
  })
  .describe('One observed aspect of the resource.');

export type Condition = z.infer<typeof conditionSchema>;

/** What a controller reports; the setter decides lastTransitionTime. */
export type ConditionUpdate = Omit<Condition, 'lastTransitionTime'>;

/** The fields every kind's status starts with. */
export const baseStatusShape = {
  observedGeneration: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('The spec generation this status describes; behind metadata.generation means not yet reconciled.'),
  conditions: z.array(conditionSchema).default([]).describe('Conditions, with `Ready` as the summary.'),
};

const iso = (now: Date | string) => (typeof now === 'string' ? now : now.toISOString());

/**
 * Returns a new conditions array with `next` set. lastTransitionTime moves only when the status of that
 * type flips (or the type is new), so "Ready since" stays meaningful while reason and message are refreshed.
 * The input array and its elements are never modified.
 */
export function setCondition(conditions: readonly Condition[], next: ConditionUpdate, now: Date | string): Condition[] {
  const i = conditions.findIndex((c) => c.type === next.type);
  const cur = i < 0 ? undefined : conditions[i];
  const lastTransitionTime = cur && cur.status === next.status ? cur.lastTransitionTime : iso(now);
  // Copy only the known fields, so a caller's extra properties never reach the stored status.
  const updated: Condition = { type: next.type, status: next.status, reason: next.reason, message: next.message, lastTransitionTime };
  if (i < 0) return [...conditions, updated];
  const out = [...conditions];
  out[i] = updated;
  return out;
}

export function getCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

type StatusLike = { conditions?: readonly Condition[]; observedGeneration?: number };

/**
 * True when the `Ready` condition is True. Given a status and a generation, it also requires the status to
 * describe that generation, so a waiter does not mistake the previous spec's readiness for the new one's.
 */
export function isReady(source: readonly Condition[] | StatusLike | undefined, generation?: number): boolean {
  if (source === undefined) return false;
  const status: StatusLike = Array.isArray(source) ? { conditions: source as readonly Condition[] } : (source as StatusLike);
  if (generation !== undefined && status.observedGeneration !== generation) return false;
  return getCondition(status.conditions, READY)?.status === 'True';
}
