// The `network` field of App, Task and Instance: where a machine's traffic may go. `all` (the default):
// public addresses; `none`: no network device at all; a list: only what it names. The host's loopback and
// own addresses are never reachable, and private ranges only when a list names them. Plain code, no
// schema library: the CLI parses --network with it (the manifest schema is network-policy-schema.ts).
import { parseEgressRule } from './egress-rule.js';

export const EGRESS_ALL = 'all' as const;
export const EGRESS_NONE = 'none' as const;
/** An allow-list longer than this is refused: each entry costs instructions in every socket's filter. */
export const MAX_EGRESS_RULES = 64;

/** `all`, `none`, or the allow-list (each entry one of EGRESS_RULE_FORMS). */
export type Egress = typeof EGRESS_ALL | typeof EGRESS_NONE | string[];

export interface NetworkPolicy {
  egress: Egress;
}

export const DEFAULT_NETWORK: NetworkPolicy = { egress: EGRESS_ALL };

/** The policy in force: the first layer that sets one (e.g. task, then app), else `all`. */
export function resolveNetwork(...layers: (NetworkPolicy | undefined)[]): NetworkPolicy {
  return layers.find((l) => l !== undefined) ?? DEFAULT_NETWORK;
}

/** `all`, `none`, or a comma-separated allow-list, as `--network` takes it; throws naming a bad entry. */
export function parseEgressFlag(value: string): Egress {
  const text = value.trim();
  if (text === EGRESS_ALL || text === EGRESS_NONE) return text;
  const entries = text.split(',').map((e) => e.trim()).filter(Boolean);
  if (entries.length === 0) throw new Error('--network needs all, none, or a comma-separated list of hosts, CIDRs and ports');
  if (entries.length > MAX_EGRESS_RULES) throw new Error(`--network lists ${entries.length} entries; at most ${MAX_EGRESS_RULES}`);
  for (const e of entries) parseEgressRule(e);
  return entries;
}

/** One line for people: what the policy lets the machine reach. */
export function describeNetwork(policy: NetworkPolicy | undefined): string {
  const egress = resolveNetwork(policy).egress;
  if (egress === EGRESS_ALL) return `egress all${policy ? '' : ' (default)'}: public addresses; private, link-local and host addresses blocked`;
  if (egress === EGRESS_NONE) return 'egress none: no network device';
  return `egress only to ${egress.join(', ')} (DNS answers only for the listed names; the rest blocked)`;
}
