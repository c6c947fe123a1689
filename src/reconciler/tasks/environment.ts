// A workload's environment at boot: workspace secrets, then the app's own secrets (both filtered by the
// app's allow-list), then the app's env, then the explicit env of the request; later sources win.
import { notFound } from '../../errors/codes.js';
import type { AppSpec } from '../../resources/app.js';
import type { SecretSpec } from '../../resources/secret.js';
import type { Store } from '../../store/store.js';

const ALL = '*';

export function resolveEnvironment(store: Store, appRef: string | undefined, explicit: Record<string, string>): Record<string, string> {
  if (!appRef) return { ...explicit };
  const app = store.get<AppSpec>('App', appRef);
  if (!app) throw notFound(`app "${appRef}" not found`);
  // Absent allow-list = every secret, as the seed behaves; [] = none.
  const allow = new Set<string>(app.spec.secrets ?? [ALL]);
  const allowed = (key: string) => allow.has(ALL) || allow.has(key);
  const secrets = store.list<SecretSpec>('Secret');
  const env: Record<string, string> = {};
  // Read at every boot, so a rotated secret reaches the next machine; values never leave this object.
  for (const scope of [undefined, app.metadata.name]) {
    for (const s of secrets.filter((x) => x.spec.app === scope)) {
      for (const [key, value] of Object.entries(store.revealSecret(s.metadata.uid))) if (allowed(key)) env[key] = value;
    }
  }
  return { ...env, ...app.spec.env, ...explicit };
}
