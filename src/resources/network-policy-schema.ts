// The zod schema of the `network` field of App, Task and Instance manifests (see network-policy.ts).
import { z } from 'zod';
import { EGRESS_RULE_FORMS, parseEgressRule } from './egress-rule.js';
import { EGRESS_ALL, EGRESS_NONE, MAX_EGRESS_RULES, type NetworkPolicy } from './network-policy.js';

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

// `satisfies`: the schema must parse to the plain type the rest of the code uses.
export const networkPolicySchema = z
  .strictObject({ egress: egressSchema })
  .describe('Where the machine may connect to. Absent: egress "all".') satisfies z.ZodType<NetworkPolicy>;
