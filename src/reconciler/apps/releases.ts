// An app's releases in publish order, newest first: by their per-app sequence number, never by time.
import type { ReleaseSpec, ReleaseStatus } from '../../resources/release.js';
import type { Store } from '../../store/store.js';
import { RELEASE_FINALIZER } from '../controllers/release.js';
import type { StoredResource } from '../../store/stored-resource.js';

export type Release = StoredResource<ReleaseSpec, ReleaseStatus>;

export function releasesOf(store: Store, app: string): Release[] {
  return store
    .list<ReleaseSpec, ReleaseStatus>('Release')
    .filter((r) => r.spec.app === app)
    .sort((a, b) => (b.status.sequence ?? 0) - (a.status.sequence ?? 0) || b.metadata.sequence - a.metadata.sequence);
}

/** A new Pending release of `app` with the next sequence number; the release controller pulls and pins it. */
export function createRelease(store: Store, app: string, image: string, opts: { label?: string; source: string }): Release {
  return store.create<ReleaseSpec, ReleaseStatus>('Release', {
    spec: { app, image, ...(opts.label ? { label: opts.label } : {}) },
    status: { phase: 'Pending', sequence: (releasesOf(store, app)[0]?.status.sequence ?? 0) + 1, conditions: [] },
    source: opts.source,
    finalizers: [RELEASE_FINALIZER],
  });
}
