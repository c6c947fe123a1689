// The `network` field of App, Task and Instance: where a machine's traffic may go. `all` (the default):
// public addresses; `none`: no network device at all; a list: only what it names. The host's loopback and
// own addresses are never reachable, and private ranges only when a list names them.
import { z } from 'zod';
import { EGRESS_RULE_FORMS, parseEgressRule } from './egress-rule.js';

export const EGRESS_ALL = 'all';
export const EGRESS_NONE = 'none';
/** An allow-list longer than this is refused: each entry costs instructions in every socket's filter. */
export const MAX_EGRESS_RULES = 64;

const egressRuleSchema = z.string().superRefine((entry, ctx) => {
  try {
    parseEgressRule(entry);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

export const egressSchema = z
  .union([z.literal(EGRESS_ALL), z.literal(EGRESS_NONE), z.array(egressRuleSchema).min(1).max(MAX_EGRESS_RULES)], {
    error: `must be "${EGRESS_ALL}", "${EGRESS_NONE}" or a list of host names, addresses, CIDRs and ports`,
  })
  .describe(
    `"all": every public address (private, link-local and the host's own stay blocked); "none": no network at all; ` +
      `or a list of what may be reached, each ${EGRESS_RULE_FORMS}. A listed name admits the public addresses DNS answers for it; ` +
      'a listed address or CIDR is reachable even when private. Never the host: its loopback and own addresses stay blocked.',
  );

export const networkPolicySchema = z
  .strictObject({ egress: egressSchema })
  .describe('Where the machine may connect to. Absent: egress "all".');

export type NetworkPolicy = z.infer<typeof networkPolicySchema>;
export type Egress = NetworkPolicy['egress'];

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
