// The shape of GET /v1/status: the daemon's version, backend and counts.
export interface DaemonStatus {
  version: string;
  pid: number;
  backend: string | null;
  /** Why this backend: AEGIS_BACKEND, or what the automatic choice passed over. */
  backendReason?: string;
  capabilities: { pauseResume: boolean; memorySnapshots: boolean; bootFromDiskLayers: boolean; workspaceMounts?: boolean; isolation: 'vm' | 'namespace' } | null;
  backends: Record<string, { available: boolean; detail: string }>;
  counts: Record<string, number>;
  /** The router's URL, or null when it is not listening. */
  router: string | null;
  watch: { dir: string; revision?: string; lastAppliedAt?: string; result: string; message: string } | null;
}
