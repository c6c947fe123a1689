// The DNS-rebinding guard. A web page at http://rebind.attacker.example:8099/ whose name its owner points at
// 127.0.0.1 is same-origin with everything it then reaches on the router, so it could read local apps; its
// requests still carry Host: rebind.attacker.example. The router answers only Host names that cannot be an
// attacker's: loopback names and addresses, and the names the operator lists in `router.hosts`.

/** Answered on any port without configuration: names no DNS owner outside this machine controls. */
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** `Web.LocalHost.:8099` → `web.localhost`, `[::1]:80` → `[::1]`; undefined when the value is not host[:port]. */
export function hostName(host: string): string | undefined {
  let name = host.trim().toLowerCase();
  let port = '';
  if (name.startsWith('[')) {
    const end = name.indexOf(']');
    if (end < 0) return undefined;
    port = name.slice(end + 1);
    name = name.slice(0, end + 1);
  } else {
    const colon = name.indexOf(':');
    if (colon >= 0) {
      port = name.slice(colon);
      name = name.slice(0, colon);
    }
  }
  if (port !== '' && !/^:\d{0,5}$/.test(port)) return undefined;
  if (name.endsWith('.')) name = name.slice(0, -1);
  return name === '' ? undefined : name;
}

export class HostGuard {
  private readonly extra: ReadonlySet<string>;

  /** `extra`: the operator's `router.hosts`, names without ports. */
  constructor(extra: readonly string[] = []) {
    this.extra = new Set(extra.map((h) => h.toLowerCase()));
  }

  /**
   * Whether a request with these raw headers may be routed: `allowed`; `malformed` for two Host headers or
   * one that is not host[:port] (400, RFC 9112 §3.2: the guest might read another Host than the one checked);
   * `foreign` for a name this router does not answer (421). A request without Host (HTTP/1.0) is allowed:
   * every browser sends one, so it cannot come from a rebound page.
   */
  check(rawHeaders: readonly string[]): 'allowed' | 'malformed' | 'foreign' {
    const hosts: string[] = [];
    for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === 'host') hosts.push(rawHeaders[i + 1]!);
    if (hosts.length > 1) return 'malformed';
    if (hosts.length === 0) return 'allowed';
    const name = hostName(hosts[0]!);
    if (name === undefined) return 'malformed';
    const ours = LOOPBACK_NAMES.has(name) || (name.endsWith('.localhost') && !name.startsWith('.')) || this.extra.has(name);
    return ours ? 'allowed' : 'foreign';
  }
}
