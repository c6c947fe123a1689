// Header rewriting at the proxy hop: hop-by-hop headers stay on their hop (RFC 9110 §7.6.1), and the
// guest learns where the request came from through X-Forwarded-*.

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Lengths of the names above: other names are not lower-cased to be looked up (this runs on every request). */
const HOP_BY_HOP_LENGTHS = new Set([...HOP_BY_HOP].map((n) => n.length));

/** Header names the Connection header declares hop-by-hop, lower-cased. */
function connectionTokens(raw: string[]): Set<string> {
  const tokens = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i].length !== 10 || raw[i].toLowerCase() !== 'connection') continue;
    for (const t of raw[i + 1].split(',')) if (t.trim()) tokens.add(t.trim().toLowerCase());
  }
  return tokens;
}

const KEEP_NONE: ReadonlySet<string> = new Set();
/** What an upgrade request must still carry to the guest. */
const KEEP_UPGRADE: ReadonlySet<string> = new Set(['connection', 'upgrade']);

/** Drops hop-by-hop headers from a flat raw header list; `keep` names ones to pass anyway (upgrades). */
export function stripHopByHop(raw: string[], keep: ReadonlySet<string> = KEEP_NONE): string[] {
  const declared = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (declared.size === 0 && !HOP_BY_HOP_LENGTHS.has(raw[i].length)) {
      out.push(raw[i], raw[i + 1]);
      continue;
    }
    const name = raw[i].toLowerCase();
    if (keep.has(name)) out.push(raw[i], raw[i + 1]);
    else if (!HOP_BY_HOP.has(name) && !declared.has(name)) out.push(raw[i], raw[i + 1]);
  }
  return out;
}

export interface ForwardContext {
  clientAddress: string | undefined;
  /** The stripped `/app/<name>` prefix, '' when none. */
  prefix: string;
  /** Upgrade requests keep Connection/Upgrade: they are what the guest must see. */
  upgrade: boolean;
}

/** The request headers the guest receives, as a flat raw list (original case and order kept). */
export function requestHeaders(raw: string[], ctx: ForwardContext): string[] {
  const keep = ctx.upgrade ? KEEP_UPGRADE : KEEP_NONE;
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let host: string | undefined;
  const kept = stripHopByHop(raw, keep);
  for (let i = 0; i < kept.length; i += 2) {
    const length = kept[i].length;
    // Only host (4), expect (6) and x-forwarded-* (15 to 18) are looked at.
    const name = length === 4 || length === 6 || (length >= 15 && length <= 18) ? kept[i].toLowerCase() : '';
    if (name === 'x-forwarded-for') forwardedFor = forwardedFor ? `${forwardedFor}, ${kept[i + 1]}` : kept[i + 1];
    else if (name === 'x-forwarded-host' || name === 'x-forwarded-proto' || name === 'x-forwarded-prefix') continue;
    // The router already answered `Expect: 100-continue`; the guest's own 100 would be a stray response.
    else if (name === 'expect' && !ctx.upgrade) continue;
    else {
      if (name === 'host') host = kept[i + 1];
      out.push(kept[i], kept[i + 1]);
    }
  }
  const client = ctx.clientAddress ?? 'unknown';
  out.push('X-Forwarded-For', forwardedFor ? `${forwardedFor}, ${client}` : client);
  if (host !== undefined) out.push('X-Forwarded-Host', host);
  out.push('X-Forwarded-Proto', 'http');
  if (ctx.prefix) out.push('X-Forwarded-Prefix', ctx.prefix);
  return out;
}
