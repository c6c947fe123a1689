// What the API answers, as zod schemas: a stored resource is its kind's spec and status schemas (from
// src/resources) inside the envelope with server-owned metadata; a Secret's values are only ever shown as
// `<redacted>`. Routes declare these as their replies (route.ts); the tests check every reply against them.
import { z } from 'zod';
import { ErrorCodes, type ErrorCode } from '../errors/codes.js';
import { API_VERSION, labelsSchema } from '../resources/envelope.js';
import { KINDS, kindInfo, type Kind } from '../resources/kinds.js';
import { envKeySchema } from '../resources/names.js';
import { secretSpecSchema } from '../resources/secret.js';
import { REDACTED } from '../store/secret-data.js';

const iso = z.iso.datetime();

export const storedMetadataSchema = z.strictObject({
  name: z.string(),
  uid: z.string(),
  labels: labelsSchema,
  generation: z.number().int().positive(),
  resourceVersion: z.number().int().positive(),
  sequence: z.number().int().nonnegative(),
  createdAt: iso,
  updatedAt: iso,
  source: z.string(),
  finalizers: z.array(z.string()),
  deletionTimestamp: iso.optional(),
});

/** A Secret as the API shows it: its keys, never its values. */
const shownSecretSpecSchema = secretSpecSchema.extend({ data: z.record(envKeySchema, z.literal(REDACTED)) });

const resourceSchemas = new Map<Kind, z.ZodObject>();

/** One stored resource of `kind`, as a reply. */
export function resourceReply(kind: Kind): z.ZodObject {
  let s = resourceSchemas.get(kind);
  if (!s) {
    s = z.strictObject({
      apiVersion: z.literal(API_VERSION),
      kind: z.literal(kind),
      metadata: storedMetadataSchema.refine((m) => m.uid.startsWith(kindInfo[kind].idPrefix), { error: `the uid has the ${kind} prefix`, path: ['uid'] }),
      spec: kind === 'Secret' ? shownSecretSpecSchema : kindInfo[kind].spec,
      status: kindInfo[kind].status,
    });
    resourceSchemas.set(kind, s);
  }
  return s;
}

/** A stored resource of any kind (the generic /v1/resources routes). */
export const anyResourceReply: z.ZodType = z.discriminatedUnion('kind', KINDS.map((k) => resourceReply(k)) as unknown as [z.ZodObject, ...z.ZodObject[]]);

export const listReply = (item: z.ZodType) => z.strictObject({ items: z.array(item) });

export const deleteResultSchema = z.enum(['deleted', 'terminating']);

export const fieldIssueSchema = z.strictObject({ location: z.string().optional(), path: z.string(), message: z.string() });

/** Every error reply: one line, the AEGIS_* reason, and the field problems of a bad input. */
export const errorReplySchema = z.strictObject({
  error: z.string(),
  reason: z.enum(Object.keys(ErrorCodes) as [ErrorCode, ...ErrorCode[]]),
  issues: z.array(fieldIssueSchema).optional(),
});
