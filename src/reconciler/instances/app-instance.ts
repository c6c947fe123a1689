// The instance serving an app: the newest that is not being deleted (a replaced one may linger while it goes).
import type { InstanceSpec } from '../../resources/instance.js';
import type { Store } from '../../store/store.js';
import type { StoredResource } from '../../store/stored-resource.js';

export function appInstance(store: Store, app: string): StoredResource<InstanceSpec> | undefined {
  return store
    .list<InstanceSpec>('Instance')
    .filter((i) => i.spec.app === app && !i.metadata.deletionTimestamp)
    .sort((a, b) => b.metadata.sequence - a.metadata.sequence)[0];
}
