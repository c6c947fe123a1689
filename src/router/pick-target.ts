// Decides which app a request is for. Every explicit choice (host, prefix, header) that names an app
// not served is a 404: falling back to "some instance" would serve one app's traffic to another.
import type { IncomingHttpHeaders } from 'node:http';
import { hostName } from './host-guard.js';
import type { InstanceDirectory, RouteTarget } from './instance-directory.js';

export type RouteDecision =
  /** `path` is what the guest sees; `prefix` is the stripped `/app/<name>` ('' when none). */
  | { kind: 'forward'; target: RouteTarget; path: string; prefix: string }
  | { kind: 'redirect'; location: string }
  /** `wanted` is the name asked for, undefined when nothing chose an app and several are served. */
  | { kind: 'not-found'; wanted?: string }
  /** Not a path: an absolute URL (`GET http://api.localhost/`) names its own host, which the Host header may not. */
  | { kind: 'bad-target' };

const PREFIX = '/app/';

/** `web.localhost:8099` → `web`; undefined for any other host. */
export function appFromHost(host: string | undefined): string | undefined {
  const name = host === undefined ? undefined : hostName(host);
  if (name === undefined || !name.endsWith('.localhost')) return undefined;
  const app = name.slice(0, -'.localhost'.length);
  return app === '' ? undefined : app;
}

/** Splits `/app/<name>[/rest][?query]`; undefined when the path has no app prefix. */
function splitPrefix(url: string): { name: string; rest: string; query: string; raw: string } | undefined {
  if (!url.startsWith(PREFIX)) return undefined;
  const q = url.indexOf('?');
  const pathPart = q >= 0 ? url.slice(0, q) : url;
  const query = q >= 0 ? url.slice(q) : '';
  const slash = pathPart.indexOf('/', PREFIX.length);
  const raw = slash >= 0 ? pathPart.slice(PREFIX.length, slash) : pathPart.slice(PREFIX.length);
  if (raw === '') return undefined;
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    name = raw; // undecodable: looked up verbatim, which simply fails to match
  }
  return { name, rest: slash >= 0 ? pathPart.slice(slash) : '', query, raw };
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s.trim() === '' ? undefined : s.trim();
}

export function pickTarget(dir: InstanceDirectory, url: string, headers: IncomingHttpHeaders): RouteDecision {
  // RFC 9112 §3.2.2 has a server route an absolute-form target by its own authority, not by Host; routing it
  // by Host would send `GET http://api.localhost/` with `Host: web.localhost` to web. Only `OPTIONS *` is not a path.
  if (!url.startsWith('/') && url !== '*') return { kind: 'bad-target' };
  const byHost = appFromHost(headers.host);
  if (byHost !== undefined) {
    const target = dir.byApp(byHost);
    return target ? { kind: 'forward', target, path: url, prefix: '' } : { kind: 'not-found', wanted: byHost };
  }

  const prefixed = splitPrefix(url);
  if (prefixed) {
    const target = dir.byApp(prefixed.name);
    if (!target) return { kind: 'not-found', wanted: prefixed.name };
    // Without the trailing slash relative links in the app's pages would resolve outside the prefix.
    if (prefixed.rest === '') return { kind: 'redirect', location: `${PREFIX}${prefixed.raw}/${prefixed.query}` };
    return { kind: 'forward', target, path: prefixed.rest + prefixed.query, prefix: PREFIX + prefixed.raw };
  }

  const byHeader = headerValue(headers, 'x-aegis-app');
  if (byHeader !== undefined) {
    const target = dir.byApp(byHeader);
    return target ? { kind: 'forward', target, path: url, prefix: '' } : { kind: 'not-found', wanted: byHeader };
  }

  const served = dir.served();
  if (served.length === 1) return { kind: 'forward', target: served[0], path: url, prefix: '' };
  return { kind: 'not-found' };
}
