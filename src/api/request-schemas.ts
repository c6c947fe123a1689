// Request pieces several routes share: path parameters naming a resource, and boolean query flags.
import { z } from 'zod';
import { kindInfo, type Kind } from '../resources/kinds.js';

/** `?force=true`: `true`/`1` and `false`/`0`, absent means false; anything else is refused rather than read as false. */
export const flag = z
  .enum(['true', 'false', '1', '0'], { error: 'expected true or false' })
  .optional()
  .transform((v) => v === 'true' || v === '1');

/** A resource by name or id (the store resolves either). */
const ref = z.string().min(1);

export const nameParams = z.strictObject({ name: ref });
export const idParams = z.strictObject({ id: ref });
export const appParams = z.strictObject({ app: ref });
export const kindParams = z.strictObject({ kind: z.string() });
export const kindNameParams = z.strictObject({ kind: z.string(), name: ref });

/** A body that is a spec of `kind`: checked with that kind's schema and reported as the store reports it (`spec.…`). */
export function specBody<K extends Kind>(kind: K) {
  return { body: kindInfo[kind].spec, bodyIssues: { subject: `invalid ${kindInfo[kind].singular} spec`, path: ['spec'] } };
}
