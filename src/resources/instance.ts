// The Instance kind: a running server, either a served app (app + release) or an ad-hoc serve (image + command + ports).
import { z } from 'zod';
import { commandSchema } from './command.js';
import { baseStatusShape } from './conditions.js';
import { envSchema } from './env.js';
import { idlePolicySchema } from './idle-policy.js';
import { imageRefSchema } from './image-ref.js';
import { machineResourcesSchema } from './machine-resources.js';
import { nameSchema } from './names.js';
import { networkPolicySchema } from './network-policy-schema.js';
import { isPlainObject } from './plain-json.js';
import { exposeSchema, portSchema } from './ports.js';
import { releasePinSchema } from './release.js';
import { runAsUserSchema } from './run-as-user.js';

export const instanceSpecSchema = z
  .strictObject({
    app: nameSchema.optional().describe('App to serve; its image, command and ports are used.'),
    release: releasePinSchema.optional().describe("Release of `app` to run (label or id); absent = the app's pin or its newest release."),
    image: imageRefSchema.optional().describe('Ad-hoc serve only: image to run; absent = the base rootfs.'),
    command: commandSchema.optional().describe('Ad-hoc serve only: main process argv (required then).'),
    expose: exposeSchema.optional().describe('Ad-hoc serve only: ports to expose (at least one).'),
    user: runAsUserSchema.optional().describe("Ad-hoc serve only: user to run the command as (see App's `user`)."),
    env: envSchema.default({}),
    resources: machineResourcesSchema.optional(),
    network: networkPolicySchema.optional().describe("Ad-hoc serve only: where the server may connect to (see App's `network`)."),
    idle: idlePolicySchema.optional(),
  })
  .superRefine(
    (spec, ctx) => {
      if (spec.app !== undefined) {
        for (const field of ['image', 'command', 'expose', 'user', 'network'] as const) {
          if (spec[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `${field} comes from the app; leave it out when app is set` });
        }
        return;
      }
      if (spec.release !== undefined) ctx.addIssue({ code: 'custom', path: ['release'], message: 'release needs app' });
      if (spec.command === undefined) ctx.addIssue({ code: 'custom', path: ['command'], message: 'an instance without app needs a command' });
      if (spec.expose === undefined || (Array.isArray(spec.expose) && spec.expose.length === 0)) {
        // A server nobody can reach is a task; serving with no ports once crashed the daemon.
        ctx.addIssue({ code: 'custom', path: ['expose'], message: 'an instance without app needs at least one port to expose' });
      }
    },
    { when: (p) => isPlainObject(p.value) },
  )
  .describe('A long-lived server that wakes on demand.');

export const instanceStateSchema = z.enum(['starting', 'running', 'paused', 'stopped', 'failed']);

export const endpointSchema = z.strictObject({
  port: portSchema.describe('Guest port.'),
  hostPort: portSchema.optional().describe('Stable host TCP listener forwarding to the guest port.'),
  url: z.string().optional().describe('Router URL for HTTP traffic.'),
});

export const instanceStatusSchema = z.strictObject({
  ...baseStatusShape,
  state: instanceStateSchema.optional().describe('Derived from the conditions: starting, running, paused, stopped or failed.'),
  connections: z.number().int().nonnegative().default(0).describe('Open client connections through the router and port listeners.'),
  lastActiveAt: z.iso.datetime().optional().describe('Last connection or activity; idle timers count from here.'),
  startedAt: z.iso.datetime().optional().describe('When the current machine booted.'),
  endpoints: z.array(endpointSchema).default([]),
  machineId: z.string().optional().describe('Id of the backend machine currently backing the instance.'),
  release: z.string().optional().describe('Release being run, for app instances.'),
});

export type InstanceSpec = z.infer<typeof instanceSpecSchema>;
export type InstanceSpecInput = z.input<typeof instanceSpecSchema>;
export type InstanceStatus = z.infer<typeof instanceStatusSchema>;
export type InstanceState = z.infer<typeof instanceStateSchema>;
export type Endpoint = z.infer<typeof endpointSchema>;
