// The App kind: a named, publishable workload (image or kit, command, ports, env, secrets, size, network, idle policy).
import { z } from 'zod';
import { commandSchema } from './command.js';
import { baseStatusShape } from './conditions.js';
import { envSchema } from './env.js';
import { idlePolicySchema } from './idle-policy.js';
import { imageRefSchema } from './image-ref.js';
import { machineResourcesSchema } from './machine-resources.js';
import { networkPolicySchema } from './network-policy-schema.js';
import { ENV_KEY_PATTERN, ENV_KEY_RULE, FORBIDDEN_KEYS, nameSchema } from './names.js';
import { isPlainObject } from './plain-json.js';
import { exposeSchema } from './ports.js';
import { releasePinSchema } from './release.js';
import { runAsUserSchema } from './run-as-user.js';
import { quoteInput } from '../util/quote-input.js';

export const ALL_SECRETS = '*';

const secretRefSchema = z
  .string()
  .regex(new RegExp(`^(\\*|${ENV_KEY_PATTERN.source.slice(1, -1)})$`), {
    error: (iss) => `${quoteInput(iss.input)} is not a secret key (${ENV_KEY_RULE}) or "*"`,
  })
  .refine((k) => !FORBIDDEN_KEYS.has(k), { error: (iss) => `${quoteInput(iss.input)} is a reserved key` });

export const secretsAllowListSchema = z
  .array(secretRefSchema)
  .superRefine(
    (keys, ctx) => {
      const seen = new Set<unknown>();
      keys.forEach((k, i) => {
        if (k === ALL_SECRETS && keys.length > 1) ctx.addIssue({ code: 'custom', path: [i], message: '"*" already allows every secret; list it alone' });
        if (seen.has(k)) ctx.addIssue({ code: 'custom', path: [i], message: `secret ${quoteInput(k)} is listed more than once` });
        seen.add(k);
      });
    },
    { when: (p) => Array.isArray(p.value) },
  )
  .describe(
    'Secrets the app may read: a list of keys (from its own and the workspace secrets), ["*"] for all of both, or [] for none. ' +
      "Absent = all of the app's own secrets and none of the workspace's. A kit's required and optional secrets are allowed in any case.",
  );

export const appSpecSchema = z
  .strictObject({
    image: imageRefSchema.optional().describe('Image the app runs; may be left out when `kit` names one.'),
    kit: nameSchema.optional().describe("Kit whose image, command, port, secrets and size are this app's defaults."),
    command: commandSchema.optional().describe('Main process argv; required unless the kit provides one.'),
    expose: exposeSchema.optional().describe("Guest ports to expose; absent = the kit's port, if any."),
    env: envSchema.default({}),
    user: runAsUserSchema.optional(),
    secrets: secretsAllowListSchema.optional(),
    resources: machineResourcesSchema.optional(),
    network: networkPolicySchema.optional(),
    idle: idlePolicySchema.optional(),
    release: releasePinSchema.optional(),
    serve: z.boolean().default(false).describe('Keep an instance of the app desired (it still pauses and stops when idle).'),
  })
  .superRefine(
    (spec, ctx) => {
      if (spec.image === undefined && spec.kit === undefined) {
        ctx.addIssue({ code: 'custom', path: ['image'], message: 'an app needs an image, or a kit that provides one' });
      }
      if (spec.command === undefined && spec.kit === undefined) {
        ctx.addIssue({ code: 'custom', path: ['command'], message: 'an app without a kit needs a command (the image CMD is ignored)' });
      }
    },
    // Cross-field rules run even when a field is malformed, so one pass reports everything.
    { when: (p) => isPlainObject(p.value) },
  )
  .describe('A workload: what to run and how it is served.');

export const appStatusSchema = z.strictObject({
  ...baseStatusShape,
  latestRelease: z.string().optional().describe('Name of the newest release (highest sequence).'),
  release: z.string().optional().describe('Name of the release the `release` pin resolves to (the latest when unpinned).'),
  instance: z.string().optional().describe('Name of the instance serving the app, when there is one.'),
});

export type AppSpec = z.infer<typeof appSpecSchema>;
export type AppSpecInput = z.input<typeof appSpecSchema>;
export type AppStatus = z.infer<typeof appStatusSchema>;
