// Image cache endpoints: GET /v1/images, POST /v1/images/pull (NDJSON progress), DELETE /v1/images?ref=, POST /v1/images/prune.
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { invalid, isAegisError } from '../../errors/codes.js';
import type { ImageStore } from '../../images/image-store.js';
import { PULL_POLICIES, type PullPolicy, type PullProgress } from '../../images/pull-policy.js';
import { parseImageRef } from '../../images/reference.js';
import type { ApiServices } from '../services.js';

/** Progress lines at most this often: a fast local pull would otherwise emit one per chunk. */
const PROGRESS_INTERVAL_MS = 100;

export function imageRoutes(app: FastifyInstance, s: ApiServices): void {
  const images = s.images;
  app.get('/v1/images', async () => ({ items: images.list() }));

  // 200 with NDJSON lines `{progress}` … then one `{image}` or `{error, reason}`: the outcome comes after the headers.
  app.post<{ Body: { ref?: unknown; policy?: unknown } }>('/v1/images/pull', async (req, reply) => {
    const { ref, policy } = req.body ?? {};
    if (typeof ref !== 'string') throw invalid('pull needs {"ref": "IMAGE"}');
    parseImageRef(ref);
    if (policy !== undefined && !PULL_POLICIES.includes(policy as PullPolicy)) throw invalid(`policy must be one of ${PULL_POLICIES.join(', ')}`);
    const out = new PassThrough();
    let last = 0;
    const onProgress = (p: PullProgress) => {
      const now = Date.now();
      if (p.phase !== 'downloading' || now - last >= PROGRESS_INTERVAL_MS) {
        last = now;
        out.write(JSON.stringify({ progress: p }) + '\n');
      }
    };
    images
      .pull(ref, { policy: (policy as PullPolicy | undefined) ?? 'missing', onProgress })
      .then((image) => out.end(JSON.stringify({ image: { ref: image.ref, digest: image.digest, size: image.size, layers: image.layers.length } }) + '\n'))
      .catch((err: unknown) => {
        if (!isAegisError(err)) req.log.error({ err }, 'image pull failed');
        out.end(JSON.stringify(isAegisError(err) ? { error: err.message, reason: err.code } : { error: 'internal error (see the daemon log)', reason: 'AEGIS_INTERNAL' }) + '\n');
      });
    return reply.type('application/x-ndjson').send(out);
  });

  app.delete<{ Querystring: { ref?: string } }>('/v1/images', async (req) => {
    if (!req.query.ref) throw invalid('delete needs ?ref=IMAGE');
    return images.remove(req.query.ref);
  });

  // Keeps images that an App, Release or Kit names; running machines keep theirs in any case.
  app.post('/v1/images/prune', async () => {
    const wanted = new Set<string>();
    for (const kind of ['App', 'Release', 'Kit'] as const) {
      for (const r of s.store.list(kind)) {
        const image = (r.spec as { image?: unknown }).image;
        if (typeof image !== 'string') continue;
        try {
          wanted.add(parseImageRef(image).canonical);
        } catch {
          // An unparsable ref names nothing in the cache.
        }
      }
    }
    return images.prune((ref) => wanted.has(ref));
  });
}
