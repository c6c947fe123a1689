// An app's releases in publish order, newest first (by their per-app sequence number, never by time), a new
// one, and the one an instance of the app runs.
import { conflict } from '../errors/codes.js';
import type { ReleaseSpec, ReleaseStatus } from '../resources/release.js';
import type { Store } from '../store/store.js';
import type { StoredResource } from '../store/stored-resource.js';
import { finalizersFor } from './metadata-keys.js';

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
    finalizers: finalizersFor('Release'),
  });
}

/** The release an app instance runs: the pinned one (label or id), else the newest Ready one; refused when none is Ready. */
export function pickRelease(store: Store, app: string, pin: string | undefined): Release {
  const releases = releasesOf(store, app);
  const release = pin ? releases.find((r) => r.spec.label === pin || r.metadata.uid === pin || r.metadata.name === pin) : releases.find((r) => r.status.phase === 'Ready');
  if (!release) throw conflict(pin ? `app "${app}" has no release ${pin}` : `app "${app}" has no published release; run: aegis app publish ${app}`);
  if (release.status.phase !== 'Ready') throw conflict(`release ${release.metadata.uid} of app "${app}" is ${release.status.phase ?? 'Pending'}, not Ready`);
  return release;
}
