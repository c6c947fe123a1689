// What the API layer is handed by the daemon: the store (handlers write desired state, nothing else; the
// controllers watch it) and facts for /v1/status.
import type { WatchStatus } from '../apply/directory-watcher.js';
import type { AegisPaths } from '../config/paths.js';
import type { Store } from '../store/store.js';
import type { BackendCapabilities, BackendName, BackendProbe } from '../vmm/backend.js';

export interface BackendReport {
  /** The backend machines run on, or null when none can run here (see `probes`). */
  name: BackendName | null;
  /** Why that one: AEGIS_BACKEND, or which better backends the automatic choice passed over (shown by `aegis doctor`). */
  reason: string;
  capabilities: BackendCapabilities | null;
  probes: Record<BackendName, BackendProbe>;
}

export interface ApiServices {
  store: Store;
  paths: AegisPaths;
  version: string;
  startedAt: Date;
  backend: BackendReport;
  /** Where the router listens, once it does (`http://127.0.0.1:8099`). */
  routerUrl?: () => string | undefined;
  /** The watched directory's last apply, when a directory is watched. */
  watchStatus?: () => WatchStatus | undefined;
}
