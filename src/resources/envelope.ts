// The manifest envelope shared by every kind: apiVersion, kind, metadata (name, labels), spec, status.
import { z } from 'zod';
import type { Kind, SpecOf, StatusOf } from './kinds.js';
import { nameSchema } from './names.js';
import { quoteInput } from '../util/quote-input.js';

export const API_VERSION = 'aegis.dev/v1';

// Kubernetes-style labels, simplified: optional `dns.prefix/` then a 1-63 char name; values up to 63 chars or empty.
const LABEL_NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const LABEL_PREFIX = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
export const LABEL_KEY_PATTERN = new RegExp(`^(${LABEL_PREFIX}/)?${LABEL_NAME}$`);
export const LABEL_VALUE_PATTERN = new RegExp(`^(${LABEL_NAME})?$`);

export const labelKeySchema = z
  .string()
  .max(253 + 1 + 63)
  .regex(LABEL_KEY_PATTERN, {
    error: (iss) =>
      `${quoteInput(iss.input)} is not a label key: use an optional lowercase DNS prefix and '/', then 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
  })
  .refine((k) => !k.includes('/') || k.indexOf('/') <= 253, { error: 'label key prefix must be at most 253 characters' });

export const labelValueSchema = z.string({ error: 'label values must be strings (quote numbers and booleans in YAML)' }).regex(LABEL_VALUE_PATTERN, {
  error: (iss) => `${quoteInput(iss.input)} is not a label value: use up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit`,
});

export const labelsSchema = z.record(labelKeySchema, labelValueSchema).describe('Labels for selection (`aegis get apps -l team=a`) and pruning.');

export const metadataSchema = z
  .strictObject({
    name: nameSchema,
    labels: labelsSchema.optional(),
  })
  .describe('Identity of the object. Server-owned fields (uid, generation, resourceVersion…) are not part of a manifest.');

export type Metadata = z.infer<typeof metadataSchema>;

/** The strict envelope for one kind, wrapping that kind's spec and status schemas. */
export function envelopeSchema<K extends Kind>(kind: K, spec: z.ZodType, status: z.ZodType) {
  return z.strictObject({
    apiVersion: z.literal(API_VERSION).describe(`Always ${API_VERSION}.`),
    kind: z.literal(kind),
    metadata: metadataSchema,
    spec,
    status: status.optional().describe('Observed state, written by aegisd; not part of the desired state.'),
  });
}

/** A manifest of kind K (a union over kinds when K is left open). */
export type Manifest<K extends Kind = Kind> = K extends Kind
  ? { apiVersion: typeof API_VERSION; kind: K; metadata: Metadata; spec: SpecOf<K>; status?: StatusOf<K> }
  : never;
