// GET /v1/status: the daemon's backend, its capabilities and resource counts (for `aegis status` and `doctor`);
// GET /v1/status/reconciles: reconciles per controller and key.
import type { FastifyInstance } from 'fastify';
import type { ApiServices } from '../services.js';

export function statusRoutes(app: FastifyInstance, s: ApiServices): void {
  app.get('/v1/status', async () => ({
    version: s.version,
    pid: process.pid,
    startedAt: s.startedAt.toISOString(),
    home: s.paths.home,
    backend: s.backend.name,
    backendReason: s.backend.reason,
    capabilities: s.backend.capabilities,
    backends: s.backend.probes,
    counts: s.store.counts(),
    router: s.routerUrl ?? null,
    watch: s.watchStatus?.() ?? null,
  }));
  // Per kind and key: how often each was reconciled. A burst of writes to one key should cost a few, not a storm.
  app.get('/v1/status/reconciles', async () => ({ controllers: s.reconcileCounts?.() ?? {} }));
}
