// One entry of a network allow-list: a host name (`api.example.com`, `*.example.com`), an address or CIDR
// (`203.0.113.7`, `10.0.0.0/8`, `2001:db8::/32`), each optionally with a port (`api.example.com:443`,
// `10.0.0.5:5432`, `[2001:db8::1]:443`). Parsed the same way by the schema and by the egress filter.
import net from 'node:net';

export type EgressRule =
  | {
      kind: 'name';
      /** Lower case, no trailing dot. */
      name: string;
      /** `*.example.com`: every name below example.com (not example.com itself). */
      subdomains: boolean;
      port?: number;
    }
  | {
      kind: 'cidr';
      /** `a.b.c.d/n` or `x::y/n` (a bare address gets /32 or /128). */
      cidr: string;
      port?: number;
    };

export const EGRESS_RULE_FORMS = 'a host name (api.example.com, *.example.com), an address or CIDR (10.0.0.5, 10.0.0.0/8, 2001:db8::/32), optionally with :PORT';

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

function parsePort(text: string, entry: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw new Error(`${JSON.stringify(entry)}: port must be 1-65535`);
  return Number(text);
}

function parseAddressOrCidr(text: string, entry: string): string | undefined {
  const [address, prefix, ...rest] = text.split('/');
  const family = net.isIP(address);
  // Zone ids (fe80::1%eth0) name a host interface: meaningless for a guest.
  if (family === 0 || address.includes('%')) return undefined;
  const max = family === 4 ? 32 : 128;
  if (prefix === undefined) return `${address}/${max}`;
  if (rest.length || !/^\d{1,3}$/.test(prefix) || Number(prefix) > max) throw new Error(`${JSON.stringify(entry)}: the prefix length must be 0-${max}`);
  return `${address}/${Number(prefix)}`;
}

function parseName(text: string, entry: string): { name: string; subdomains: boolean } | undefined {
  const lower = text.toLowerCase().replace(/\.$/, '');
  const subdomains = lower.startsWith('*.');
  const name = subdomains ? lower.slice(2) : lower;
  const labels = name.split('.');
  if (!labels.every((l) => LABEL.test(l)) || name.length > 253) return undefined;
  // A bare label (`db`) would resolve through search domains the guest does not have.
  if (labels.length < 2) throw new Error(`${JSON.stringify(entry)}: a host name must be fully qualified (e.g. api.example.com)`);
  if (/^\d+$/.test(labels[labels.length - 1])) return undefined; // 10.0.0 or 1.2.3.4.5: a mistyped address
  return { name, subdomains };
}

/** Parses one allow-list entry; throws an Error whose message names the entry and what is wrong with it. */
export function parseEgressRule(entry: string): EgressRule {
  const text = entry.trim();
  let host = text;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1];
    if (bracketed[2] !== undefined) port = parsePort(bracketed[2], entry);
  } else if (text.split(':').length === 2) {
    // One colon: name:port or v4:port. Two or more: an IPv6 address, whose port needs brackets.
    const at = text.lastIndexOf(':');
    host = text.slice(0, at);
    port = parsePort(text.slice(at + 1), entry);
  }
  const withPort = port === undefined ? {} : { port };
  const cidr = parseAddressOrCidr(host, entry);
  if (cidr) return { kind: 'cidr', cidr, ...withPort };
  if (bracketed) throw new Error(`${JSON.stringify(entry)}: only an IPv6 address or CIDR goes in brackets`);
  const name = parseName(host, entry);
  if (name) return { kind: 'name', ...name, ...withPort };
  throw new Error(`${JSON.stringify(entry)} is not ${EGRESS_RULE_FORMS}`);
}

/** Whether a DNS question name (any case, with or without the root dot) is one a name rule admits. */
export function nameMatches(rule: Extract<EgressRule, { kind: 'name' }>, question: string): boolean {
  const q = question.toLowerCase().replace(/\.$/, '');
  return rule.subdomains ? q.endsWith(`.${rule.name}`) : q === rule.name;
}
