// The router's own responses: 421 (a Host it does not answer), 400 (a target that is not a path), 404 (no
// such app), 503 (still waking) and 502 (could not reach it).
// Plain text for tools, HTML for browsers (Accept: text/html).
import type { IncomingHttpHeaders } from 'node:http';
import type { RouteTarget } from './instance-directory.js';

/** Host values and names echoed back are cut short: they come from the client. */
const ECHO_MAX = 100;

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

/**
 * Names only what was asked for: a list of served apps would tell any local user (or a page that got past
 * the Host check) what runs here. `aegis instance list` is where the operator sees that.
 */
export function notFoundPage(wanted: string | undefined, html: boolean, routerPort: number): Page {
  const head = wanted === undefined ? 'No app was chosen for this request.' : `No app named "${wanted.slice(0, ECHO_MAX)}" is served here.`;
  const how = `Reach an app at http://<app>.localhost:${routerPort}/ or http://127.0.0.1:${routerPort}/app/<app>/ (aegis instance list shows what is served).`;
  const htmlBody =
    `<!doctype html><html><head><meta charset="utf-8"><title>Not found</title></head><body>` +
    `<h1>${escapeHtml(head)}</h1><p>${escapeHtml(how)}</p></body></html>\n`;
  return page(404, html, `${head}\n${how}\n`, htmlBody);
}

/**
 * A Host the router refuses. 421 Misdirected Request for a name it does not answer: this server does not
 * produce responses for that authority (RFC 9110 §15.5.20), which is exactly the case, where 403 would say
 * the name is known but the client not allowed. 400 for two Host headers or a malformed one (RFC 9112 §3.2).
 * Plain text whatever the client accepts: nothing of the request is rendered as HTML.
 */
export function refusedHostPage(why: 'malformed' | 'foreign', host: string | undefined): Page {
  const shown = JSON.stringify((host ?? '').slice(0, ECHO_MAX));
  const text =
    why === 'malformed'
      ? 'A request must carry exactly one Host header, of the form host[:port].\n'
      : `This router does not answer for Host ${shown}: only localhost, *.localhost, 127.0.0.1, [::1] and the names in ` +
        `router.hosts of $AEGIS_HOME/config.yaml (a guard against DNS rebinding).\n`;
  return page(why === 'malformed' ? 400 : 421, false, text, text);
}

/** A request target that is not a path: the router is no forward proxy (see pickTarget). */
export function badTargetPage(): Page {
  const text = 'The request target must be a path, as in GET /x HTTP/1.1 (this router is not a forward proxy).\n';
  return page(400, false, text, text);
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
  const reasons: Record<number, string> = { 400: 'Bad Request', 421: 'Misdirected Request', 404: 'Not Found', 502: 'Bad Gateway', 503: 'Service Unavailable', 308: 'Permanent Redirect' };
  const headers = { ...p.headers, 'content-length': String(Buffer.byteLength(p.body)), connection: 'close' };
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return `HTTP/1.1 ${p.status} ${reasons[p.status] ?? 'Error'}\r\n${lines.join('\r\n')}\r\n\r\n${p.body}`;
}
