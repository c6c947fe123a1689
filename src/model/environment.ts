// A workload's environment at boot: workspace secrets, then the app's own secrets (both filtered by the
// app's allow-list, see `secretAllowed`), then the app's env, then the explicit env; later sources win.
import { notFound } from '../errors/codes.js';
import type { AppSpec } from '../resources/app.js';
import type { SecretSpec } from '../resources/secret.js';
import type { Store } from '../store/store.js';
import { effectiveApp, secretAllowed } from './effective-app.js';

export function resolveEnvironment(store: Store, appRef: string | undefined, explicit: Record<string, string>): Record<string, string> {
  if (!appRef) return { ...explicit };
  const stored = store.get<AppSpec>('App', appRef);
  if (!stored) throw notFound(`app "${appRef}" not found`);
  const app = effectiveApp(store, stored);
  const secrets = store.list<SecretSpec>('Secret');
  const env: Record<string, string> = {};
  // Read at every boot, so a rotated secret reaches the next machine; values never leave this object.
  for (const [scope, owner] of [['workspace', undefined], ['app', app.name]] as const) {
    for (const s of secrets.filter((x) => x.spec.app === owner)) {
      for (const [key, value] of Object.entries(store.revealSecret(s.metadata.uid))) if (secretAllowed(app, key, scope)) env[key] = value;
    }
  }
  return { ...env, ...app.env, ...explicit };
}
