// The router's own responses: 404 (what is served), 503 (still waking) and 502 (could not reach it).
// Plain text for tools, HTML for browsers (Accept: text/html).
import type { IncomingHttpHeaders } from 'node:http';
import type { RouteTarget } from './instance-directory.js';

export interface Page {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function wantsHtml(headers: IncomingHttpHeaders): boolean {
  return (headers.accept ?? '').toLowerCase().includes('text/html');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(status: number, html: boolean, text: string, htmlBody: string, extra: Record<string, string> = {}): Page {
  return {
    status,
    headers: {
      'content-type': html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      ...extra,
    },
    body: html ? htmlBody : text,
  };
}

/** `routerPort` is the port clients reached the router on, for the example URLs. */
export function notFoundPage(wanted: string | undefined, served: RouteTarget[], html: boolean, routerPort: number): Page {
  const apps = [...new Set(served.map((t) => t.app))].sort();
  const head = wanted === undefined ? 'No app was chosen for this request.' : `No app named "${wanted}" is served here.`;
  const lines = [head];
  if (apps.length === 0) lines.push('No apps are served right now.');
  else {
    lines.push(`Served apps: ${apps.join(', ')}`);
    lines.push(`Reach one at http://<app>.localhost:${routerPort}/ or http://127.0.0.1:${routerPort}/app/<app>/`);
  }
  const items = apps
    .map((a) => {
      const e = escapeHtml(a);
      const u = encodeURIComponent(a);
      return `<li><a href="http://${u}.localhost:${routerPort}/">${e}</a> (<a href="/app/${u}/">/app/${e}/</a>)</li>`;
    })
    .join('');
  const htmlBody =
    `<!doctype html><html><head><meta charset="utf-8"><title>Not found</title></head><body>` +
    `<h1>${escapeHtml(head)}</h1>` +
    (apps.length === 0 ? '<p>No apps are served right now.</p>' : `<p>Served apps:</p><ul>${items}</ul>`) +
    `</body></html>\n`;
  return page(404, html, lines.join('\n') + '\n', htmlBody);
}

export function startingPage(target: RouteTarget, retryAfterSeconds: number, html: boolean): Page {
  const n = Math.max(1, Math.ceil(retryAfterSeconds));
  const text = `App "${target.app}" is starting; retry in ${n} s.\n`;
  const htmlBody =
    `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="${n}">` +
    `<title>Starting ${escapeHtml(target.app)}</title></head><body>` +
    `<h1>${escapeHtml(target.app)} is starting</h1><p>This page reloads in ${n} s.</p></body></html>\n`;
  return page(503, html, text, htmlBody, { 'retry-after': String(n) });
}

export function badGatewayPage(target: RouteTarget, cause: unknown): Page {
  const why = (cause instanceof Error ? cause.message : String(cause)).replace(/\s+/g, ' ').trim() || 'unknown error';
  const text = `Could not reach app "${target.app}" (instance ${target.instance}): ${why}\n`;
  return page(502, false, text, text);
}

export function redirectPage(location: string): Page {
  return { status: 308, headers: { location, 'content-type': 'text/plain; charset=utf-8' }, body: `See ${location}\n` };
}

/** A page as raw HTTP/1.1 bytes, for sockets the HTTP server has handed over (upgrades). */
export function rawResponse(p: Page): string {
  const reasons: Record<number, string> = { 404: 'Not Found', 502: 'Bad Gateway', 503: 'Service Unavailable', 308: 'Permanent Redirect' };
  const headers = { ...p.headers, 'content-length': String(Buffer.byteLength(p.body)), connection: 'close' };
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return `HTTP/1.1 ${p.status} ${reasons[p.status] ?? 'Error'}\r\n${lines.join('\r\n')}\r\n\r\n${p.body}`;
}
