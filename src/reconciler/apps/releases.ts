// An app's releases in publish order, newest first: by their per-app sequence number, never by time.
import type { ReleaseSpec, ReleaseStatus } from '../../resources/release.js';
import type { Store } from '../../store/store.js';
import type { StoredResource } from '../../store/stored-resource.js';

export type Release = StoredResource<ReleaseSpec, ReleaseStatus>;

export function releasesOf(store: Store, app: string): Release[] {
  return store
    .list<ReleaseSpec, ReleaseStatus>('Release')
    .filter((r) => r.spec.app === app)
    .sort((a, b) => (b.status.sequence ?? 0) - (a.status.sequence ?? 0) || b.metadata.sequence - a.metadata.sequence);
}

/** The sequence number the next release of `app` gets. */
export function nextReleaseSequence(store: Store, app: string): number {
  return (releasesOf(store, app)[0]?.status.sequence ?? 0) + 1;
}
