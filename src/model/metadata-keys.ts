// The finalizer and label keys Aegis itself sets on resources (all under aegis.dev/), in one place, and the
// one way a controller claims and lets go of a resource's clean-up.
import type { Kind } from '../resources/kinds.js';
import type { Store } from '../store/store.js';
import type { StoredResource } from '../store/stored-resource.js';

/** What each kind's controller must do before a resource of that kind may go. */
export const FINALIZER = {
  /** Its instances, releases and secrets (and with purge its workspace) go first. */
  App: 'aegis.dev/app-cleanup',
  /** Its pinned image is unpinned. */
  Release: 'aegis.dev/release-image',
  /** Its machine is stopped and its state directory removed. */
  Instance: 'aegis.dev/instance-machine',
  /** Its machine is stopped and its log removed. */
  Task: 'aegis.dev/task-machine',
} as const;

export type FinalizedKind = keyof typeof FINALIZER;

/** Set by `aegis app delete --purge`: the app's workspace directory goes too. */
export const PURGE_WORKSPACE_LABEL = 'aegis.dev/purge-workspace';
/** Marks the Secret that imperative writes of a scope go to (unless the key already lives elsewhere). */
export const IMPERATIVE_SECRET_LABEL = 'aegis.dev/secret-store';
/** Marks the Instance an App's `serve: true` made (its value: the app's name); `serve: false` removes only these. */
export const SERVED_BY_APP_LABEL = 'aegis.dev/served-by-app';

/** The finalizers a new resource is created with, so its clean-up is claimed from its very first write. */
export const finalizersFor = (kind: FinalizedKind): string[] => [FINALIZER[kind]];

/**
 * Adds the kind's finalizer to a resource that lacks it (one written through the generic resource API or by
 * apply); a no-op, without a write, when it is there.
 */
export function ensureFinalizer(store: Store, kind: FinalizedKind, r: StoredResource): void {
  if (!r.metadata.finalizers.includes(FINALIZER[kind])) store.addFinalizer(kind as Kind, r.metadata.uid, FINALIZER[kind]);
}

/** The kind's clean-up is done: the resource goes once no other finalizer holds it. */
export function removeFinalizer(store: Store, kind: FinalizedKind, uid: string): void {
  store.removeFinalizer(kind as Kind, uid, FINALIZER[kind]);
}
