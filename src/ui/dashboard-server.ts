// The web dashboard: its own HTTP server on 127.0.0.1, started by the first `aegis ui` (nothing listens until
// someone asks). Its own port, not a path on the router: the router serves apps' pages on 127.0.0.1:8099, and
// a page there would be same-origin with a dashboard under it, free to read its token and drive the daemon.
// On a port of its own, every app is another origin, which the browser keeps out (DashboardAccess).
// It serves the page and its bundle (dist/ui/assets, built by scripts/bundle-ui.mjs), the daemon's own API
// routes (the CLI's /v1/... endpoints, so the page and `aegis` share one contract), the live store feed
// and the exec console.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { BODY_LIMIT, buildApi } from '../api/app.js';
import { installErrorHandling } from '../api/error-handler.js';
import type { ApiServices } from '../api/services.js';
import { unavailable } from '../errors/codes.js';
import { DashboardAccess } from './dashboard-access.js';
import { dashboardPage } from './dashboard-page.js';
import { execConsoleRoutes } from './exec-console.js';
import { resourceStreamRoute } from './resource-stream.js';

export interface DashboardOptions {
  enabled: boolean;
  port: number;
  /** The daemon's log; the dashboard never logs a request line (its URLs carry the token). */
  log: FastifyBaseLogger;
}

/** Sent with every answer: nothing else may frame, embed or be loaded by the page. */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
};

const ASSET_TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json' };

export class Dashboard {
  readonly access = new DashboardAccess();
  private starting: Promise<{ server: FastifyInstance; port: number }> | undefined;

  constructor(
    private readonly services: ApiServices,
    private readonly opts: DashboardOptions,
  ) {}

  /** The URL to open (with the token), starting the server on first use. */
  async url(): Promise<string> {
    if (!this.opts.enabled) throw unavailable('the dashboard is turned off (ui.enabled: false in config.yaml)');
    this.starting ??= this.start().catch((err: NodeJS.ErrnoException) => {
      this.starting = undefined;
      throw unavailable(`the dashboard cannot listen on 127.0.0.1:${this.opts.port} (${err.code ?? err.message}); set ui.port in config.yaml`);
    });
    const { port } = await this.starting;
    return `http://127.0.0.1:${port}/?token=${this.access.token}`;
  }

  async close(): Promise<void> {
    const running = await this.starting?.catch(() => undefined);
    await running?.server.close();
  }

  private async start(): Promise<{ server: FastifyInstance; port: number }> {
    const server = Fastify({ loggerInstance: this.opts.log, disableRequestLogging: true, bodyLimit: BODY_LIMIT, forceCloseConnections: true });
    installErrorHandling(server);
    let port = this.opts.port;
    server.addHook('onRequest', async (req, reply) => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
      const decision = this.access.check(req.headers, req.url, port);
      if (!decision.ok) return reply.status(decision.status).send({ error: decision.message, reason: decision.status === 401 ? 'AEGIS_UNAUTHORIZED' : 'AEGIS_FORBIDDEN' });
    });
    buildApi(this.services, server);
    resourceStreamRoute(server, this.services);
    execConsoleRoutes(server, this.services);
    const assets = assetsDir();
    server.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(dashboardPage(this.access.token)));
    server.get<{ Params: { file: string } }>('/assets/:file', async (req, reply) => {
      const file = req.params.file;
      const type = ASSET_TYPES[path.extname(file)];
      // Names only, from the bundle's own directory.
      if (!type || !/^[\w.-]+$/.test(file) || !assets) return reply.status(404).send({ error: `no such asset: ${file}`, reason: 'AEGIS_NOT_FOUND' });
      try {
        return reply.type(type).send(fs.readFileSync(path.join(assets, file)));
      } catch {
        return reply.status(404).send({ error: `no such asset: ${file}`, reason: 'AEGIS_NOT_FOUND' });
      }
    });
    await server.listen({ host: '127.0.0.1', port: this.opts.port });
    const address = server.server.address();
    port = typeof address === 'object' && address ? address.port : this.opts.port;
    this.opts.log.info(`dashboard listening on 127.0.0.1:${port}`);
    return { server, port };
  }
}

/** dist/ui/assets, seen from the daemon's bundle (dist/daemon/) or from tsc's output (dist/ui/). */
function assetsDir(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  return ['../ui/assets', '../../ui/assets'].map((rel) => path.resolve(here, rel)).find((dir) => fs.existsSync(path.join(dir, 'dashboard.js')));
}
