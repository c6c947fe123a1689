// Kit endpoints: POST /v1/kits, GET /v1/kits[/{name}], DELETE /v1/kits/{name}[?force=true].
import { isDeepStrictEqual } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { conflict, invalid } from '../../errors/codes.js';
import type { Manifest } from '../../resources/envelope.js';
import { kitFromFlatYaml } from '../../resources/kit.js';
import { validateManifest } from '../../resources/manifest.js';
import { isPlainObject } from '../../resources/plain-json.js';
import { present } from '../present.js';
import { sourceOf } from '../request-source.js';
import type { ApiServices } from '../services.js';
import { quoteInput } from '../../util/quote-input.js';

interface NameParams { name: string }

export function kitRoutes(app: FastifyInstance, s: ApiServices): void {
  app.post<{ Body: unknown }>('/v1/kits', async (req, reply) => {
    const manifest = kitManifestOf(req.body);
    const name = manifest.metadata.name;
    const existing = s.store.get('Kit', name);
    if (existing) {
      // Installing the same kit again is a no-op; a different kit under the name would silently change every app using it.
      if (!existing.metadata.deletionTimestamp && isDeepStrictEqual(existing.spec, asStored(manifest.spec))) return reply.status(200).send(present(existing));
      throw conflict(`kit "${name}" is already installed (version ${String(existing.spec.version)}); uninstall it first`);
    }
    const created = s.store.create('Kit', { name, labels: manifest.metadata.labels, spec: manifest.spec, source: sourceOf(req.headers) });
    return reply.status(201).send(present(created));
  });

  app.get('/v1/kits', async () => ({
    items: s.store
      .list('Kit')
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0))
      .map(present),
  }));

  app.get<{ Params: NameParams }>('/v1/kits/:name', async (req) => present(s.store.mustGet('Kit', req.params.name)));

  app.delete<{ Params: NameParams; Querystring: { force?: string } }>('/v1/kits/:name', async (req) => {
    const cur = s.store.mustGet('Kit', req.params.name);
    const name = cur.metadata.name;
    if (req.query.force !== 'true') {
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
  });
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
