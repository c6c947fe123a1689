// The contract every resource in an API reply keeps: its kind's schemas accept its spec and its status, its
// id has the kind's prefix, and a Secret's values never appear (checked where secrets are involved).
import { expect } from 'vitest';
import { kindInfo, validateStatus, isKind, type Kind } from '../../src/resources/kinds.js';

interface Reply {
  kind: string;
  metadata: { uid: string; name: string };
  spec: unknown;
  status: unknown;
}

export function expectResource(r: Reply, kind?: Kind): void {
  expect(isKind(r.kind), `kind ${r.kind}`).toBe(true);
  const k = r.kind as Kind;
  if (kind) expect(k).toBe(kind);
  expect(r.metadata.uid.startsWith(kindInfo[k].idPrefix)).toBe(true);
  const spec = (kindInfo[k].spec as { safeParse(v: unknown): { success: boolean; error?: unknown } }).safeParse(r.spec);
  expect(spec.success, `spec of ${k} ${r.metadata.name}: ${JSON.stringify(spec.error)}`).toBe(true);
  expect(() => validateStatus(k, r.status)).not.toThrow();
}
