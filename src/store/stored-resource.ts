// The shape of a resource as the store keeps it: the manifest envelope plus server-owned metadata.
import type { Kind } from '../resources/kinds.js';

export interface ResourceMetadata {
  name: string;
  /** Stable id with the kind's prefix (`app-…`, `task-…`); every command that takes a name takes this too. */
  uid: string;
  labels: Record<string, string>;
  /** Bumped when the spec changes, never for status or label writes. */
  generation: number;
  /** Bumped on every write; a write that carries a stale one is refused with a conflict. */
  resourceVersion: number;
  /** Store-wide creation order, the tie-breaker for "newest". */
  sequence: number;
  createdAt: string;
  updatedAt: string;
  /** Who wrote it: `cli`, `api`, or `file:<dir>` for a watched or applied directory. */
  source: string;
  finalizers: string[];
  deletionTimestamp?: string;
}

export interface StoredResource<S = Record<string, unknown>, T = Record<string, unknown>> {
  apiVersion: 'aegis.dev/v1';
  kind: Kind;
  metadata: ResourceMetadata;
  spec: S;
  status: T;
}

export type StoreEventType = 'created' | 'updated' | 'deleted';

/** What an update wrote: the spec (generation moved), only metadata (labels, source, finalizers, deletion), or only status. */
export type StoreChange = 'spec' | 'metadata' | 'status';

export interface StoreEvent {
  type: StoreEventType;
  kind: Kind;
  name: string;
  uid: string;
  /** Set on 'updated' events. */
  change?: StoreChange;
}
