// Who may talk to the dashboard: a request must name this daemon's token and come to a loopback Host on the
// dashboard's port from no other origin. The token is the only credential (no cookie: cookies are not kept
// apart by port, so one for 127.0.0.1 would be sent to every app the router serves on 127.0.0.1:8099 too).
// Host pins the name a DNS-rebinding page cannot take; Origin (sent by browsers on cross-origin reads, every
// POST and every WebSocket) keeps other pages, local apps included, from driving it; no CORS header is ever
// sent, so no other origin can read an answer either.
import crypto from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The Host names the dashboard answers to (with its own port). */
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

export type AccessDecision = { ok: true } | { ok: false; status: 401 | 403 | 421; message: string };

export class DashboardAccess {
  /** Random per daemon start, held in memory only: never written to disk or logged. */
  readonly token = crypto.randomBytes(24).toString('base64url');

  /** Whether a request to the dashboard on `port` may go on; `url` is the request target (path and query). */
  check(headers: IncomingHttpHeaders, url: string, port: number): AccessDecision {
    const allowed = LOOPBACK_NAMES.map((name) => `${name}:${port}`);
    const host = headers.host?.toLowerCase();
    if (!host || !allowed.includes(host)) return { ok: false, status: 421, message: `the dashboard answers only to ${allowed.join(', ')}` };
    const origin = headers.origin;
    // Only this origin; `null` (a sandboxed frame, a file: page) is another origin too.
    if (origin !== undefined && origin.toLowerCase() !== `http://${host}`) return { ok: false, status: 403, message: 'requests from other origins are refused' };
    // Fetch metadata, where the browser sends it: a cross-site subresource or navigation never gets in.
    const site = headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return { ok: false, status: 403, message: 'requests from other sites are refused' };
    if (!this.matches(presentedToken(headers, url))) return { ok: false, status: 401, message: 'this needs the token that `aegis ui` prints (open the URL it prints)' };
    return { ok: true };
  }

  private matches(candidate: string | undefined): boolean {
    if (candidate === undefined) return false;
    const a = Buffer.from(candidate);
    const b = Buffer.from(this.token);
    return a.length === b.length && crypto.timingSafeEqual(a, b);
  }
}

/** `Authorization: Bearer T` (the page's fetches), else `?token=T` (the first page load, EventSource, assets). */
function presentedToken(headers: IncomingHttpHeaders, url: string): string | undefined {
  const auth = headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  return new URLSearchParams(url.slice(q + 1)).get('token') ?? undefined;
}
