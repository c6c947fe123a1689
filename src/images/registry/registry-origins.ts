// Which URLs a pull may reach besides the registry's API, and which of them see its Authorization header.
//
// The rules (README "Images" says the same):
// - Stored credentials and bearer tokens go only to the registry's own origin (scheme, host and port);
//   basic credentials also go to its token realm, which must itself pass the next rule.
// - A token realm, and a blob download's redirect (to object storage), must be HTTPS, or be on the
//   registry's own host when the registry itself is spoken to over plain HTTP (loopback, or listed under
//   images.insecureRegistries): so nothing travels in plain text unless the operator chose that already.
// - Manifest and token requests follow redirects only within their own origin.

/** True for hosts only reachable on this machine: plain HTTP is acceptable there. */
export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/:\d+$/, '');
  return name === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(name) || name === '[::1]';
}

export function sameOrigin(a: URL, b: URL): boolean {
  return a.origin === b.origin;
}

/** What refusalOffRegistry allows, for error messages. */
export const OFF_REGISTRY_RULE = "only HTTPS, or the registry's own host when it speaks plain HTTP";

/**
 * Whether a pull from the registry at `registry` may send a request to `target` off the registry's API:
 * a token realm, or where a blob download was redirected. Undefined when it may, else what is wrong.
 */
export function refusalOffRegistry(target: URL, registry: URL): string | undefined {
  if (target.protocol === 'https:') return undefined;
  if (target.protocol !== 'http:') return 'not HTTP';
  if (registry.protocol === 'http:' && target.hostname === registry.hostname) return undefined;
  return 'plain HTTP on another host';
}

/** `scheme://host[:port]` of a URL, also for schemes whose origin is opaque (`file:`). */
export const shownOrigin = (url: URL): string => `${url.protocol}//${url.host}`;
