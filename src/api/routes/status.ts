// GET /v1/status: the daemon's backend, its capabilities and resource counts (for `aegis status` and `doctor`);
// GET /v1/status/reconciles: reconciles per controller and key.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { KINDS } from '../../resources/kinds.js';
import { fieldIssueSchema } from '../reply-schemas.js';
import { route } from '../route.js';
import type { ApiServices } from '../services.js';

const capabilitiesSchema = z.strictObject({
  pauseResume: z.boolean(),
  memorySnapshots: z.boolean(),
  bootFromDiskLayers: z.boolean(),
  workspaceMounts: z.boolean(),
  isolation: z.enum(['vm', 'namespace']),
});

const watchSchema = z.strictObject({
  dir: z.string(),
  revision: z.string().optional(),
  lastAppliedAt: z.string().optional(),
  result: z.enum(['pending', 'ok', 'error']),
  message: z.string(),
  issues: z.array(fieldIssueSchema).optional(),
  counts: z.record(z.string(), z.number()).optional(),
});

const statusReply = z.strictObject({
  version: z.string(),
  pid: z.number().int(),
  startedAt: z.iso.datetime(),
  home: z.string(),
  backend: z.string().nullable(),
  backendReason: z.string(),
  capabilities: capabilitiesSchema.nullable(),
  backends: z.record(z.string(), z.strictObject({ available: z.boolean(), detail: z.string() })),
  counts: z.strictObject(Object.fromEntries(KINDS.map((k) => [k, z.number().int().nonnegative()]))),
  router: z.string().nullable(),
  watch: watchSchema.nullable(),
});

export function statusRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, {
    method: 'GET',
    url: '/v1/status',
    replies: { 200: statusReply },
    handler: async () => ({
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
    }),
  });

  // Per kind and key: how often each was reconciled. A burst of writes to one key should cost a few, not a storm.
  route(app, {
    method: 'GET',
    url: '/v1/status/reconciles',
    replies: { 200: z.strictObject({ controllers: z.record(z.string(), z.strictObject({ total: z.number().int().nonnegative(), keys: z.record(z.string(), z.number().int().positive()) })) }) },
    handler: async () => ({ controllers: s.reconcileCounts?.() ?? {} }),
  });
}
