// What an app runs once its kit's defaults are filled in: the app's own fields win, then the kit's.
import { notFound } from '../errors/codes.js';
import type { AppSpec } from '../resources/app.js';
import type { KitSpec } from '../resources/kit.js';
import { resolveResources, type MachineResources } from '../resources/machine-resources.js';
import type { NetworkPolicy } from '../resources/network-policy.js';
import type { Store } from '../store/store.js';
import type { StoredResource } from '../store/stored-resource.js';

export interface EffectiveApp {
  name: string;
  image: string;
  command: string[];
  expose: number[];
  env: Record<string, string>;
  resources: MachineResources;
  /** Where its machines may connect to (absent: egress all). */
  network: NetworkPolicy | undefined;
  /** Keys the app may read: undefined = the default rule (see `secretAllowed`). */
  secrets: string[] | undefined;
  /** The kit's required and optional keys, always readable by the app. */
  kitSecrets: { required: string[]; optional: string[] };
}

export function effectiveApp(store: Store, app: StoredResource<AppSpec>): EffectiveApp {
  let kit: KitSpec | undefined;
  if (app.spec.kit) {
    kit = store.get<KitSpec>('Kit', app.spec.kit)?.spec;
    if (!kit) throw notFound(`app "${app.metadata.name}" uses kit "${app.spec.kit}", which is not installed`);
  }
  const config = kit?.config;
  return {
    name: app.metadata.name,
    // The schema guarantees an image or a kit (which always has one).
    image: app.spec.image ?? kit!.image,
    command: app.spec.command ?? config?.command ?? [],
    expose: app.spec.expose ?? (config?.port !== undefined ? [config.port] : []),
    env: app.spec.env ?? {},
    resources: resolveResources(app.spec.resources, config?.resources),
    network: app.spec.network,
    secrets: app.spec.secrets,
    kitSecrets: { required: config?.secrets?.required ?? [], optional: config?.secrets?.optional ?? [] },
  };
}

/**
 * Whether the app may read a secret key from a scope. The rule: keys the kit declares are always
 * readable; `secrets: ["*"]` allows every key of both scopes; a list allows exactly those keys (from
 * either scope); no list at all allows every key of the app's own secrets and none of the workspace's.
 */
export function secretAllowed(app: EffectiveApp, key: string, scope: 'app' | 'workspace'): boolean {
  if (app.kitSecrets.required.includes(key) || app.kitSecrets.optional.includes(key)) return true;
  if (app.secrets === undefined) return scope === 'app';
  return app.secrets.includes('*') || app.secrets.includes(key);
}
