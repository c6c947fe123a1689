// The Task kind: a one-shot command run to completion in a fresh machine, then garbage-collected after a TTL.
import { z } from 'zod';
import { commandSchema } from './command.js';
import { baseStatusShape } from './conditions.js';
import { envSchema } from './env.js';
import { imageRefSchema, pullPolicySchema } from './image-ref.js';
import { machineResourcesSchema } from './machine-resources.js';
import { nameSchema } from './names.js';
import { networkPolicySchema } from './network-policy-schema.js';
import { runAsUserSchema } from './run-as-user.js';

export const DEFAULT_TASK_TTL_SECONDS = 3600;

export const taskSpecSchema = z
  .strictObject({
    image: imageRefSchema.optional().describe('Image to run in; absent = the base rootfs.'),
    pull: pullPolicySchema.optional(),
    command: commandSchema,
    env: envSchema.default({}),
    user: runAsUserSchema.optional(),
    app: nameSchema.optional().describe("App whose secrets (and workspace secrets) the task receives."),
    resources: machineResourcesSchema.optional(),
    network: networkPolicySchema.optional().describe("Where the task may connect to; absent = the app's policy (with `app`), else egress \"all\"."),
    hold: z
      .strictObject({
        start: z.boolean().optional().describe('The command starts only once POST /v1/tasks/{id}/start is called (files are copied in meanwhile).'),
        exit: z.boolean().optional().describe('After the command exits the machine stays until POST /v1/tasks/{id}/release (files are copied out meanwhile).'),
      })
      .optional()
      .describe('Points where the task waits for its client, at most 10 minutes each (`aegis run --copy` and `--artifacts`).'),
    ttlSeconds: z
      .number()
      .int()
      .nonnegative()
      .max(30 * 86_400)
      .default(DEFAULT_TASK_TTL_SECONDS)
      .describe('Seconds a finished task (and its logs) is kept before garbage collection (default 3600, at most 30 days).'),
  })
  .describe('A one-shot command.');

export const taskPhaseSchema = z.enum(['Pending', 'Running', 'Succeeded', 'Failed']);

export const taskStatusSchema = z.strictObject({
  ...baseStatusShape,
  phase: taskPhaseSchema.optional().describe('Pending → Running → Succeeded or Failed; derived from the conditions.'),
  exitCode: z.number().int().nullable().optional().describe('Exit code of the command; null while running or when it never ran.'),
  reason: z.string().optional().describe('One-word cause when Failed, e.g. `PullFailed`, `Killed`.'),
  message: z.string().optional().describe('Sentence explaining the phase.'),
  signal: z.string().optional().describe('Signal that ended the command, when one did (e.g. `SIGKILL`).'),
  startedAt: z.iso.datetime().optional(),
  finishedAt: z.iso.datetime().optional(),
  machineId: z.string().optional(),
});

export type TaskSpec = z.infer<typeof taskSpecSchema>;
export type TaskSpecInput = z.input<typeof taskSpecSchema>;
export type TaskStatus = z.infer<typeof taskStatusSchema>;
export type TaskPhase = z.infer<typeof taskPhaseSchema>;
