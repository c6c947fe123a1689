// Generic resource endpoints /v1/resources/{kind}[/{name}]: the store's create/read/update/delete over HTTP.
import type { FastifyInstance } from 'fastify';
import { invalid } from '../../errors/codes.js';
import { parseKind } from '../../resources/kinds.js';
import { parseLabelSelector, SELECTOR_RULE } from '../../resources/label-selector.js';
import { present } from '../present.js';
import { sourceOf } from '../request-source.js';
import type { ApiServices } from '../services.js';

interface KindParams { kind: string }
interface NameParams extends KindParams { name: string }
interface WriteBody {
  metadata?: { name?: string; labels?: Record<string, string>; resourceVersion?: number };
  spec?: unknown;
}


export function resourceRoutes(app: FastifyInstance, s: ApiServices): void {
  app.get<{ Params: KindParams; Querystring: { labels?: string } }>('/v1/resources/:kind', async (req) => {
    const kind = parseKind(req.params.kind);
    const labels = req.query.labels ? parseLabelSelector(req.query.labels) : undefined;
    if (req.query.labels && !labels) throw invalid(`bad label selector "${req.query.labels}": ${SELECTOR_RULE}`);
    return { items: s.store.list(kind, { labels }).map(present) };
  });

  app.get<{ Params: NameParams }>('/v1/resources/:kind/:name', async (req) => present(s.store.mustGet(parseKind(req.params.kind), req.params.name)));

  app.post<{ Params: KindParams; Body: WriteBody }>('/v1/resources/:kind', async (req, reply) => {
    const kind = parseKind(req.params.kind);
    const body = requireBody(req.body);
    const created = s.store.create(kind, {
      name: body.metadata?.name,
      labels: body.metadata?.labels,
      spec: body.spec,
      source: sourceOf(req.headers),
    });
    return reply.status(201).send(present(created));
  });

  app.put<{ Params: NameParams; Body: WriteBody }>('/v1/resources/:kind/:name', async (req) => {
    const kind = parseKind(req.params.kind);
    const body = requireBody(req.body);
    const updated = s.store.update(kind, req.params.name, {
      spec: body.spec,
      labels: body.metadata?.labels,
      resourceVersion: body.metadata?.resourceVersion,
    });
    return present(updated);
  });

  app.delete<{ Params: NameParams; Querystring: { force?: string } }>('/v1/resources/:kind/:name', async (req) => {
    const kind = parseKind(req.params.kind);
    const cur = s.store.mustGet(kind, req.params.name);
    const result = s.store.delete(kind, cur.metadata.uid, { force: req.query.force === 'true' });
    return { kind, name: cur.metadata.name, result };
  });
}

function requireBody(body: WriteBody | undefined): WriteBody {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('request body must be a JSON object with metadata and spec');
  return body;
}
