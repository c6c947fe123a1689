// GET /ui/watch: the dashboard's live view of the store as server-sent events. It listens to the same store
// change feed the controllers are woken by (Store.onChange): first a `snapshot` of every kind the pages show,
// then one `change` per write with the resource as the API presents it (secret values never leave). The page
// keeps its lists from these alone, so what it shows is what the store says, as soon as it says it.
import type { FastifyInstance } from 'fastify';
import type { ApiServices } from '../api/services.js';
import { present } from '../api/present.js';
import type { Kind } from '../resources/kinds.js';

/** The kinds the dashboard lists. */
const WATCHED: Kind[] = ['App', 'Release', 'Instance', 'Task', 'Secret', 'Kit'];
/** A comment line this often keeps proxies and the browser from timing the stream out. */
const HEARTBEAT_MS = 15_000;
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export function resourceStreamRoute(app: FastifyInstance, s: ApiServices): void {
  app.get('/ui/watch', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    const send = (event: string, data: unknown) => {
      // A page that stopped reading is dropped rather than buffered without end; it reconnects for a new snapshot.
      if (res.writableLength > MAX_BUFFERED_BYTES) return void res.destroy();
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const snapshot: Record<string, unknown[]> = {};
    for (const kind of WATCHED) snapshot[kind] = s.store.list(kind).map(present);
    send('snapshot', snapshot);
    const unsubscribe = s.store.onChange((e) => {
      if (!WATCHED.includes(e.kind)) return;
      const current = e.type === 'deleted' ? undefined : s.store.get(e.kind, e.uid);
      send('change', { type: e.type, kind: e.kind, uid: e.uid, name: e.name, ...(current ? { resource: present(current) } : {}) });
    });
    const heartbeat = setInterval(() => res.write(': keepalive\n\n'), HEARTBEAT_MS);
    req.raw.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
  });
}
