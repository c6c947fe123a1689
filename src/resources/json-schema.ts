// JSON Schema for manifests, generated from the zod schemas (for editors and for checking API replies in tests).
import { z } from 'zod';
import { API_VERSION } from './envelope.js';
import { KINDS, manifestSchema, type Kind } from './kinds.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const SCHEMA_BASE = 'https://aegis.dev/schemas/';

// Sorted keys make the files byte-stable whatever order zod happens to emit.
function sortKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  }
  return v;
}

export const schemaFileName = (kind: Kind): string => `${kind.toLowerCase()}.json`;

/** JSON Schema (draft 2020-12) of a full manifest of `kind`, describing what a user may write (zod's input side). */
export function manifestJsonSchema(kind: Kind): Record<string, Json> {
  const generated = z.toJSONSchema(manifestSchema(kind), { io: 'input' }) as Record<string, Json>;
  return sortKeys({
    ...generated,
    $id: SCHEMA_BASE + schemaFileName(kind),
    title: `Aegis ${kind} manifest (${API_VERSION})`,
  }) as Record<string, Json>;
}

/** One schema for a file mixing kinds: any one manifest. */
export function anyManifestJsonSchema(): Record<string, Json> {
  return sortKeys({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `${SCHEMA_BASE}manifest.json`,
    title: `Any Aegis manifest (${API_VERSION})`,
    anyOf: KINDS.map((k) => {
      const { $schema: _drop, ...rest } = manifestJsonSchema(k);
      return rest;
    }),
  }) as Record<string, Json>;
}
