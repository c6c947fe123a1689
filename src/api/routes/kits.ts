// Kit endpoints: POST /v1/kits, GET /v1/kits[/{name}], DELETE /v1/kits/{name}[?force=true].
import { isDeepStrictEqual } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { conflict, invalid } from '../../errors/codes.js';
import type { Manifest } from '../../resources/envelope.js';
import { kitFromFlatYaml } from '../../resources/kit.js';
import { validateManifest } from '../../resources/manifest.js';
import { isPlainObject } from '../../resources/plain-json.js';
import { present } from '../present.js';
import { deleteResultSchema, listReply, resourceReply } from '../reply-schemas.js';
import { flag, nameParams } from '../request-schemas.js';
import { sourceOf } from '../request-source.js';
import { route } from '../route.js';
import type { ApiServices } from '../services.js';
import { quoteInput } from '../../util/quote-input.js';

export function kitRoutes(app: FastifyInstance, s: ApiServices): void {
  route(app, {
    method: 'POST',
    url: '/v1/kits',
    // A Kit manifest, flat or full: kitManifestOf validates it against the Kit schemas, with their field paths.
    body: z.unknown(),
    replies: { 200: resourceReply('Kit'), 201: resourceReply('Kit') },
    handler: async ({ body, req, reply }) => {
      const manifest = kitManifestOf(body);
      const name = manifest.metadata.name;
      const existing = s.store.get('Kit', name);
      if (existing) {
        // Installing the same kit again is a no-op; a different kit under the name would silently change every app using it.
        if (!existing.metadata.deletionTimestamp && isDeepStrictEqual(existing.spec, asStored(manifest.spec))) return reply.status(200).send(present(existing));
        throw conflict(`kit "${name}" is already installed (version ${String(existing.spec.version)}); uninstall it first`);
      }
      const created = s.store.create('Kit', { name, labels: manifest.metadata.labels, spec: manifest.spec, source: sourceOf(req.headers) });
      return reply.status(201).send(present(created));
    },
  });

  route(app, {
    method: 'GET',
    url: '/v1/kits',
    replies: { 200: listReply(resourceReply('Kit')) },
    handler: async () => ({
      items: s.store
        .list('Kit')
        .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0))
        .map(present),
    }),
  });

  route(app, {
    method: 'GET',
    url: '/v1/kits/:name',
    params: nameParams,
    replies: { 200: resourceReply('Kit') },
    handler: async ({ params }) => present(s.store.mustGet('Kit', params.name)),
  });

  route(app, {
    method: 'DELETE',
    url: '/v1/kits/:name',
    params: nameParams,
    query: z.object({ force: flag }),
    replies: { 200: z.strictObject({ name: z.string(), result: deleteResultSchema }) },
    handler: async ({ params, query }) => kitDelete(s, params.name, query.force),
  });
}

/** Uninstalls a kit; one still used by an app is refused unless `force`. */
function kitDelete(s: ApiServices, ref: string, force: boolean) {
  const cur = s.store.mustGet('Kit', ref);
  const name = cur.metadata.name;
  if (!force) {
    const users = s.store
      .list('App')
      .filter((a) => a.spec.kit === name)
      .map((a) => a.metadata.name)
      .sort();
    if (users.length > 0) throw conflict(`kit "${name}" is used by app(s) ${users.join(', ')}; delete them first or uninstall with --force`);
  }
  // --force only overrides the in-use check: finalizers (if a controller ever adds one) still run.
  const result = s.store.delete('Kit', cur.metadata.uid);
  return { name, result };
}

// What the store would keep (a JSON round trip), so absent and undefined fields compare alike.
const asStored = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

/** The body as a validated Kit manifest: the seed's flat form (no apiVersion/kind) or the full envelope. */
function kitManifestOf(body: unknown): Manifest<'Kit'> {
  if (!isPlainObject(body) || (!('apiVersion' in body) && !('kind' in body))) return kitFromFlatYaml(body);
  if (body.kind !== 'Kit') {
    const got = body.kind === undefined ? 'no kind' : `kind ${quoteInput(body.kind)}`;
    throw invalid(`POST /v1/kits takes a Kit manifest, got ${got}`, [{ path: 'kind', message: `expected "Kit", got ${got.replace(/^kind /, '')}` }]);
  }
  return validateManifest(body) as Manifest<'Kit'>;
}
