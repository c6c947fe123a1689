// What an instance asks of the host, worked out from the store without pulling anything: the ports it exposes
// (for its listeners and the router) and the machine size it boots with (checked against the host up front).
import type { AppSpec } from '../resources/app.js';
import type { InstanceSpec } from '../resources/instance.js';
import { resolveResources, type MachineResources } from '../resources/machine-resources.js';
import type { Store } from '../store/store.js';
import { effectiveApp } from './effective-app.js';

/** The ports an instance exposes, without pulling anything (for listeners and the router). */
export function exposedPorts(store: Store, spec: InstanceSpec): number[] {
  if (!spec.app) return spec.expose ?? [];
  const app = store.get<AppSpec>('App', spec.app);
  return app ? effectiveApp(store, app).expose : [];
}

/** The machine size an instance asks for: its own, else its app's (with the kit's defaults filled in). */
export function instanceResources(store: Store, spec: InstanceSpec): MachineResources {
  if (spec.resources || !spec.app) return resolveResources(spec.resources);
  return effectiveApp(store, store.mustGet<AppSpec>('App', spec.app)).resources;
}
