// Instance log endpoints: GET /v1/instances/{id}/logs and GET /v1/apps/{app}/logs (NDJSON; follow, tail, since, source).
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { invalid, notFound } from '../../errors/codes.js';
import { isLogSource, LOG_SOURCES, type LogSource } from '../../logs/instance-log-entry.js';
import type { InstanceLogs, ReadOptions } from '../../logs/instance-log.js';
import { tryParseDuration } from '../../resources/duration.js';
import type { StoredResource } from '../../store/stored-resource.js';
import { appInstance } from '../../model/app-instance.js';
import { appParams, idParams } from '../request-schemas.js';
import { route } from '../route.js';
import type { ApiServices } from '../services.js';
import { findInstance } from './instances.js';
import { quoteInput } from '../../util/quote-input.js';

interface LogQuery {
  follow?: string;
  tail?: string;
  since?: string;
  source?: string;
}

// Checked in readOptions, whose messages name the accepted forms.
const logQuery = z.object({ follow: z.string().optional(), tail: z.string().optional(), since: z.string().optional(), source: z.string().optional() });

export function instanceLogRoutes(app: FastifyInstance, s: ApiServices): void {
  const logs = s.lifecycle.instanceLogs;
  const stream = (instance: StoredResource, query: LogQuery, reply: FastifyReply) => {
    const opts = readOptions(query);
    const abort = new AbortController();
    // A client that goes away ends its reader (and stops counting as activity for the idle timer).
    reply.raw.on('close', () => abort.abort());
    const entries = logs.read(instance.metadata.uid, { ...opts, signal: abort.signal });
    return reply.type('application/x-ndjson').send(Readable.from(ndjson(entries), { objectMode: false }));
  };

  // Resolved like exec: an app's name means that app's instance, whatever other instance is called so.
  route(app, {
    method: 'GET',
    url: '/v1/instances/:id/logs',
    params: idParams,
    query: logQuery,
    replies: {},
    streams: 'application/x-ndjson',
    handler: async ({ params, query, reply }) => stream(findInstance(s, params.id) as StoredResource, query, reply),
  });

  route(app, {
    method: 'GET',
    url: '/v1/apps/:app/logs',
    params: appParams,
    query: logQuery,
    replies: {},
    streams: 'application/x-ndjson',
    handler: async ({ params, query, reply }) => {
      const name = s.store.mustGet('App', params.app).metadata.name;
      const instance = appInstance(s.store, name);
      if (!instance) throw notFound(`app "${name}" has no instance (serve it with: aegis app serve ${name})`);
      return stream(instance as StoredResource, query, reply);
    },
  });
}

/** Reads the query; anything malformed is a 400 naming the accepted forms, never silently ignored. */
export function readOptions(q: LogQuery, now = Date.now()): Omit<ReadOptions, 'signal'> {
  const opts: Omit<ReadOptions, 'signal'> = { follow: q.follow === 'true' || q.follow === '1' };
  if (q.tail !== undefined && q.tail !== '') {
    if (!/^\d+$/.test(q.tail) || !Number.isSafeInteger(Number(q.tail))) throw invalid(`invalid tail ${quoteInput(q.tail)}: expected a number of lines (0 or more)`);
    opts.tail = Number(q.tail);
  }
  if (q.since !== undefined && q.since !== '') opts.since = parseSince(q.since, now);
  if (q.source !== undefined && q.source !== '') {
    const sources = q.source.split(',').map((x) => x.trim()).filter(Boolean);
    const bad = sources.filter((x) => !isLogSource(x));
    if (bad.length > 0) throw invalid(`invalid source ${quoteInput(bad[0])}: expected one or more of ${LOG_SOURCES.join(', ')} (comma-separated)`);
    opts.source = sources as LogSource[];
  }
  return opts;
}

/** `10s`, `5m`, `2h`, `1d` (back from now) or an ISO 8601 time. */
export function parseSince(since: string, now = Date.now()): Date {
  const ms = tryParseDuration(since);
  if (ms !== undefined) return new Date(now - ms);
  // Only ISO-looking times: Date.parse alone accepts odd strings ("1", "May") that are surely typos.
  const t = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(since) ? Date.parse(since) : NaN;
  if (Number.isNaN(t)) throw invalid(`invalid since ${quoteInput(since)}: expected a duration such as 10s, 5m, 2h or 1d, or a time such as 2026-02-19T10:35:00Z`);
  return new Date(t);
}

async function* ndjson(entries: AsyncIterable<unknown>): AsyncGenerator<string> {
  for await (const e of entries) yield JSON.stringify(e) + '\n';
}
