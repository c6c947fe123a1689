// Sealing and revealing a Secret's `spec.data` values; only sealed values ever reach the database.
import { invalid } from '../errors/codes.js';
import { SecretBox } from './secret-box.js';

type Spec = Record<string, unknown>;

const aad = (secret: string, key: string) => `secret/${secret}/${key}`;

/**
 * Seals every plaintext value of `spec.data`. A value equal to the one already stored keeps its old
 * sealed form, so re-applying the same secret is a no-op rather than a new generation.
 */
export function sealSecretData(box: SecretBox, secret: string, spec: Spec, previous: Spec | undefined): Spec {
  const data = (spec.data ?? {}) as Record<string, unknown>;
  const prev = (previous?.data ?? {}) as Record<string, unknown>;
  const sealed: Record<string, string> = {};
  for (const [key, value] of Object.entries(data)) {
    if (SecretBox.isSealed(value)) {
      // Only a value this store sealed for this very key may come back as is (e.g. from a round-tripped spec).
      if (prev[key] !== value) throw invalid(`secret ${secret}: value of ${key} is sealed for another secret`);
      sealed[key] = value;
    } else if (typeof value === 'string') {
      const old = prev[key];
      sealed[key] = SecretBox.isSealed(old) && box.open(old, aad(secret, key)) === value ? old : box.seal(value, aad(secret, key));
    } else {
      throw invalid(`secret ${secret}: value of ${key} must be resolved to a string by the client (valueFrom is read at apply time)`);
    }
  }
  return { ...spec, data: sealed };
}

export function revealSecretData(box: SecretBox, secret: string, spec: Spec): Record<string, string> {
  const data = (spec.data ?? {}) as Record<string, string>;
  return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, box.open(value, aad(secret, key))]));
}

/** What a secret value is shown as. */
export const REDACTED = '<redacted>';

/** A copy of a Secret spec safe to show anywhere: keys kept, values replaced. */
export function redactSecretSpec(spec: Spec): Spec {
  const data = (spec.data ?? {}) as Record<string, unknown>;
  return { ...spec, data: Object.fromEntries(Object.keys(data).map((k) => [k, REDACTED])) };
}
