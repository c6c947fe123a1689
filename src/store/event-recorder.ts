// Recent events per resource, for `aegis describe`: created, each change of its Ready condition (with the
// reason), deleted. Kept in memory (the last EVENTS_PER_RESOURCE of each), derived from store changes.
import type { Store } from './store.js';
import type { StoreEvent } from './stored-resource.js';

export interface ResourceEvent {
  time: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

const EVENTS_PER_RESOURCE = 20;
/** Deleted resources' events are dropped after this many others were deleted, so memory stays bounded. */
const DELETED_KEPT = 200;

export class EventRecorder {
  private readonly events = new Map<string, ResourceEvent[]>();
  private readonly lastReady = new Map<string, string>();
  private readonly deleted: string[] = [];
  private readonly unsubscribe: () => void;

  constructor(private readonly store: Store) {
    this.unsubscribe = store.onChange((e) => this.observe(e));
  }

  /** Events of a resource by uid, oldest first. */
  of(uid: string): ResourceEvent[] {
    return [...(this.events.get(uid) ?? [])];
  }

  close(): void {
    this.unsubscribe();
  }

  private observe(e: StoreEvent): void {
    if (e.type === 'created') this.add(e.uid, 'Normal', 'Created', `${e.kind.toLowerCase()} ${e.name} created`);
    if (e.type === 'deleted') {
      this.add(e.uid, 'Normal', 'Deleted', `${e.kind.toLowerCase()} ${e.name} deleted`);
      this.lastReady.delete(e.uid);
      this.deleted.push(e.uid);
      if (this.deleted.length > DELETED_KEPT) this.events.delete(this.deleted.shift()!);
      return;
    }
    const r = this.store.get(e.kind, e.uid);
    if (!r) return;
    if (r.metadata.deletionTimestamp && this.lastReady.get(e.uid) !== 'deleting') {
      this.lastReady.set(e.uid, 'deleting');
      this.add(e.uid, 'Normal', 'Deleting', 'deletion requested; clean-up is running');
      return;
    }
    const ready = (r.status as { conditions?: { type: string; status: string; reason: string; message: string }[] }).conditions?.find((c) => c.type === 'Ready');
    if (!ready) return;
    const key = `${ready.status}/${ready.reason}`;
    if (this.lastReady.get(e.uid) === key) return;
    this.lastReady.set(e.uid, key);
    this.add(e.uid, ready.status === 'False' ? 'Warning' : 'Normal', ready.reason || 'Ready', ready.message);
  }

  private add(uid: string, type: ResourceEvent['type'], reason: string, message: string): void {
    const list = this.events.get(uid) ?? [];
    list.push({ time: new Date().toISOString(), type, reason, message });
    if (list.length > EVENTS_PER_RESOURCE) list.shift();
    this.events.set(uid, list);
  }
}
