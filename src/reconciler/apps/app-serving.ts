// Declarative serving: an App with `serve: true` gets a release (published from its image when it has none,
// or the one its `release` pin names) and exactly one Instance once that release is Ready; `serve: false`
// removes the instance serving made (never one `aegis app serve` or a manifest made). The outcome is the
// app's `Serving` condition.
import type { EffectiveApp } from '../../model/effective-app.js';
import { appInstance } from '../../model/app-instance.js';
import { finalizersFor, SERVED_BY_APP_LABEL } from '../../model/metadata-keys.js';
import { createRelease, releasesOf, type Release } from '../../model/releases.js';
import type { AppSpec } from '../../resources/app.js';
import { SERVING, type ConditionUpdate } from '../../resources/conditions.js';
import type { InstanceSpec } from '../../resources/instance.js';
import type { Store } from '../../store/store.js';
import type { StoredResource } from '../../store/stored-resource.js';

/** Where serving an app stands: its condition, and whether to look again soon (an instance still going away). */
export interface ServingOutcome {
  condition: ConditionUpdate;
  retryInMs?: number;
}

/** A replaced instance of the same name is still being deleted: its successor is created after it is gone. */
const NAME_BUSY_RETRY_MS = 200;

const waiting = (reason: string, message: string): ServingOutcome => ({ condition: { type: SERVING, status: 'Unknown', reason, message } });
const refused = (reason: string, message: string): ServingOutcome => ({ condition: { type: SERVING, status: 'False', reason, message } });

/** Makes what `serve: true` asks for exist, one step at a time (each store write brings the next pass). */
export function ensureServed(store: Store, app: StoredResource<AppSpec>, eff: EffectiveApp): ServingOutcome {
  const name = app.metadata.name;
  if (eff.expose.length === 0) return refused('NoPorts', `app "${name}" exposes no port, so there is nothing to serve`);
  const serving = appInstance(store, name);
  if (serving) return { condition: { type: SERVING, status: 'True', reason: 'Serving', message: `instance ${serving.metadata.name} serves the app` } };
  const release = releaseToServe(store, app, eff);
  if ('condition' in release) return release;
  const phase = release.status.phase ?? 'Pending';
  if (phase === 'Failed') return refused('ReleaseFailed', `release ${release.metadata.uid} failed; publish again (aegis app publish ${name})`);
  if (phase !== 'Ready') return waiting('ReleasePending', `release ${release.metadata.uid} is ${phase}`);
  // Named after the app (an app's name is only for its own instance); an older one of that name may still be going.
  const same = store.get<InstanceSpec>('Instance', name);
  if (same) return { ...waiting('Replacing', `instance ${name} is still being deleted`), retryInMs: NAME_BUSY_RETRY_MS };
  const created = store.create('Instance', {
    name,
    labels: { [SERVED_BY_APP_LABEL]: name },
    spec: { app: name },
    source: 'aegisd',
    finalizers: finalizersFor('Instance'),
  });
  return waiting('Starting', `instance ${created.metadata.name} created`);
}

/** The release to serve: the pinned one, else the newest (published now from the app's image when there is none). */
function releaseToServe(store: Store, app: StoredResource<AppSpec>, eff: EffectiveApp): Release | ServingOutcome {
  const releases = releasesOf(store, eff.name);
  const pin = app.spec.release;
  if (pin) {
    const pinned = releases.find((r) => r.spec.label === pin || r.metadata.uid === pin || r.metadata.name === pin);
    return pinned ?? refused('NoRelease', `app "${eff.name}" has no release ${pin} (the release pin)`);
  }
  return releases.find((r) => r.status.phase === 'Ready') ?? releases[0] ?? createRelease(store, eff.name, eff.image, { source: 'aegisd' });
}

/** `serve: false`: the instances serving made go (their machines stop); others stay. */
export function stopServing(store: Store, app: string): void {
  for (const i of store.list('Instance', { labels: { [SERVED_BY_APP_LABEL]: app } })) {
    if (!i.metadata.deletionTimestamp) store.delete('Instance', i.metadata.uid);
  }
}
