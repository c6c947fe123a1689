// Turns a stored resource into what the API may show: secret values never leave the daemon (reply-schemas.ts
// holds every reply to that in the tests).
import type { StoredResource } from '../store/stored-resource.js';
import { redactSecretSpec } from '../store/secret-data.js';

export function present(r: StoredResource): StoredResource {
  return r.kind === 'Secret' ? { ...r, spec: redactSecretSpec(r.spec) } : r;
}
