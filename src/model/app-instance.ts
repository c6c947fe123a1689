// Instances in the store by what they serve: an app's instance, or whatever instance a name means.
import type { InstanceSpec } from '../resources/instance.js';
import { newestOf, resolveInstanceName, type NameMeaning, type NamedInstance } from '../resources/instance-names.js';
import type { Store } from '../store/store.js';
import type { StoredResource } from '../store/stored-resource.js';

type Instance = StoredResource<InstanceSpec>;

function storedInstances(store: Store): (NamedInstance & { resource: Instance })[] {
  return store.list<InstanceSpec>('Instance').map((r) => ({
    uid: r.metadata.uid,
    name: r.metadata.name,
    app: r.spec.app,
    sequence: r.metadata.sequence,
    deleting: r.metadata.deletionTimestamp !== undefined,
    resource: r,
  }));
}

/** The instance serving an app: the newest that is not being deleted (a replaced one may linger while it goes). */
export function appInstance(store: Store, app: string): Instance | undefined {
  return newestOf(storedInstances(store), app)?.resource;
}

/** What `name` (an app's name or id, an instance's name or id) means; see resolveInstanceName. */
export function instanceByName(store: Store, name: string): NameMeaning<Instance> {
  const meaning = resolveInstanceName(name, storedInstances(store), (n) => store.get('App', n)?.metadata.name);
  return { ...(meaning.app !== undefined ? { app: meaning.app } : {}), ...(meaning.instance ? { instance: meaning.instance.resource } : {}) };
}
