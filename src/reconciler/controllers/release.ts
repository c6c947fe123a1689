// Release controller: pulls the release's image once, pins it (the release's rootfs artifact: its layers,
// kept whatever happens to the tag), and records the digest; a deleted release unpins its image.
import type { ImageStore } from '../../images/image-store.js';
import { setCondition } from '../../resources/conditions.js';
import type { ReleaseSpec, ReleaseStatus } from '../../resources/release.js';
import type { Store } from '../../store/store.js';
import type { ReconcileResult } from '../controller.js';
import { ensureFinalizer, removeFinalizer } from '../../model/metadata-keys.js';


export class ReleaseReconciler {
  constructor(private readonly deps: { store: Store; images: ImageStore }) {}

  readonly reconcile = async (name: string): Promise<ReconcileResult | void> => {
    const { store, images } = this.deps;
    const rel = store.get<ReleaseSpec, ReleaseStatus>('Release', name);
    if (!rel) return;
    const uid = rel.metadata.uid;
    if (rel.metadata.deletionTimestamp) {
      await images.unpin(uid);
      removeFinalizer(store, 'Release', uid);
      return;
    }
    ensureFinalizer(store, 'Release', rel);
    // Releases are immutable: once Ready or Failed there is nothing left to do (a daemon restart mid-pull retries).
    if (rel.status.phase === 'Ready' || rel.status.phase === 'Failed') return;

    const set = (status: Partial<ReleaseStatus>, ready: 'True' | 'False' | 'Unknown', reason: string, message: string) => {
      const cur = store.get<ReleaseSpec, ReleaseStatus>('Release', uid);
      if (!cur || cur.metadata.deletionTimestamp) return;
      store.updateStatus('Release', uid, {
        ...cur.status,
        ...status,
        observedGeneration: cur.metadata.generation,
        conditions: setCondition(cur.status.conditions ?? [], { type: 'Ready', status: ready, reason, message }, new Date()),
      });
    };
    set({ phase: 'Pulling' }, 'Unknown', 'Pulling', `pulling ${rel.spec.image}`);
    try {
      // Always asks the registry: publishing is when a moved tag (a new :latest) should be picked up.
      const image = await images.pull(rel.spec.image, { policy: 'always' });
      const rootfs = images.pin(uid, image);
      set({ phase: 'Ready', imageDigest: image.digest, rootfs }, 'True', 'Published', `image ${image.ref} at ${image.digest}`);
    } catch (err) {
      set({ phase: 'Failed' }, 'False', 'PullFailed', err instanceof Error ? err.message : String(err));
    }
  };
}
