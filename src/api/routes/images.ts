// Image cache endpoints: GET /v1/images, POST /v1/images/pull (NDJSON progress), DELETE /v1/images?ref=, POST /v1/images/prune.
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { isAegisError } from '../../errors/codes.js';
import { PULL_POLICIES, type PullPolicy, type PullProgress } from '../../images/pull-policy.js';
import { parseImageRef } from '../../images/reference.js';
import { listReply } from '../reply-schemas.js';
import { route } from '../route.js';
import type { ApiServices } from '../services.js';

/** Progress lines at most this often: a fast local pull would otherwise emit one per chunk. */
const PROGRESS_INTERVAL_MS = 100;

const imageRecord = z.strictObject({
  ref: z.string(),
  digest: z.string(),
  indexDigest: z.string().optional(),
  configDigest: z.string(),
  layers: z.array(z.string()),
  size: z.number().int().nonnegative(),
  pulledAt: z.string(),
});

const pullBody = z.object(
  {
    ref: z.string({ error: 'pull needs {"ref": "IMAGE"}' }),
    policy: z.enum(PULL_POLICIES as [PullPolicy, ...PullPolicy[]], { error: `policy must be one of ${PULL_POLICIES.join(', ')}` }).optional(),
  },
  { error: 'pull needs {"ref": "IMAGE"}' },
);

export function imageRoutes(app: FastifyInstance, s: ApiServices): void {
  const images = s.images;
  route(app, { method: 'GET', url: '/v1/images', replies: { 200: listReply(imageRecord) }, handler: async () => ({ items: images.list() }) });

  // 200 with NDJSON lines `{progress}` … then one `{image}` or `{error, reason}`: the outcome comes after the headers.
  route(app, {
    method: 'POST',
    url: '/v1/images/pull',
    body: pullBody,
    replies: {},
    streams: 'application/x-ndjson',
    handler: async ({ body, req, reply }) => pull(s, body.ref, body.policy ?? 'missing', req, reply),
  });

  route(app, {
    method: 'DELETE',
    url: '/v1/images',
    query: z.object({ ref: z.string({ error: 'delete needs ?ref=IMAGE' }).min(1, { error: 'delete needs ?ref=IMAGE' }) }),
    replies: { 200: z.strictObject({ ref: z.string(), freedBytes: z.number().int().nonnegative() }) },
    handler: async ({ query }) => images.remove(query.ref),
  });

  // Keeps images that an App, Release or Kit names; running machines keep theirs in any case.
  route(app, {
    method: 'POST',
    url: '/v1/images/prune',
    replies: { 200: z.strictObject({ removed: z.array(z.string()), freedBytes: z.number().int().nonnegative() }) },
    handler: async () => {
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
    },
  });
}

/** Streams the pull's progress, then its outcome; a bad ref is refused before the headers go out. */
function pull(s: ApiServices, ref: string, policy: PullPolicy, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  parseImageRef(ref);
  const out = new PassThrough();
  let last = 0;
  const onProgress = (p: PullProgress) => {
    const now = Date.now();
    if (p.phase !== 'downloading' || now - last >= PROGRESS_INTERVAL_MS) {
      last = now;
      out.write(JSON.stringify({ progress: p }) + '\n');
    }
  };
  s.images
    .pull(ref, { policy, onProgress })
    .then((image) => out.end(JSON.stringify({ image: { ref: image.ref, digest: image.digest, size: image.size, layers: image.layers.length } }) + '\n'))
    .catch((err: unknown) => {
      if (!isAegisError(err)) req.log.error({ err }, 'image pull failed');
      out.end(JSON.stringify(isAegisError(err) ? { error: err.message, reason: err.code } : { error: 'internal error (see the daemon log)', reason: 'AEGIS_INTERNAL' }) + '\n');
    });
  return reply.type('application/x-ndjson').send(out);
}
