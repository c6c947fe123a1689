// Port numbers and the `expose` list of guest ports reachable through the router and per-port listeners.
import { z } from 'zod';

export const portSchema = z.number().int().min(1).max(65535).describe('A TCP port, 1-65535.');

export const exposeSchema = z
  .array(portSchema)
  .meta({ uniqueItems: true })
  .superRefine(
    (ports, ctx) => {
      const seen = new Set<unknown>();
      ports.forEach((p, i) => {
        if (seen.has(p)) ctx.addIssue({ code: 'custom', path: [i], message: `port ${String(p)} is listed more than once` });
        seen.add(p);
      });
    },
    // Run even when another port is malformed, so every problem is reported in one pass.
    { when: (payload) => Array.isArray(payload.value) },
  )
  .describe('Guest ports to expose (each at most once).');
