// The Secret kind: app- or workspace-scoped key/values; plaintext only on the way in, sealed by the store.
import { z } from 'zod';
import { baseStatusShape } from './conditions.js';
import { envKeySchema, nameSchema } from './names.js';
import { isPlainObject } from './plain-json.js';

export const valueFromSchema = z
  .strictObject({
    env: z
      .string()
      .min(1)
      .optional()
      .describe("Read the value from this environment variable of the CLI process (in a watched directory: the daemon's, and only one listed in `watchEnv`)."),
    file: z
      .string()
      .min(1)
      .optional()
      .describe('Read the value from this file (a relative path is relative to the manifest; in a watched directory, only a file inside it).'),
  })
  .superRefine(
    (v, ctx) => {
      const n = Number(v.env !== undefined) + Number(v.file !== undefined);
      if (n !== 1) ctx.addIssue({ code: 'custom', path: [], message: 'valueFrom needs exactly one of env or file' });
    },
    { when: (p) => isPlainObject(p.value) },
  )
  .describe('Where the CLI reads the value at apply time, so no plaintext lives in the manifest.');

export const secretValueSchema = z
  .union([
    z.string().describe('The value (write-only: it is encrypted at rest and never shown again).'),
    z.strictObject({ valueFrom: valueFromSchema }),
  ])
  .describe('A plaintext value or {valueFrom: {env: NAME} | {file: PATH}}.');

export const secretSpecSchema = z
  .strictObject({
    app: nameSchema.optional().describe('App the secret belongs to; absent = workspace scope (every app may read it).'),
    data: z.record(envKeySchema, secretValueSchema).describe('Key → value. The app wins over the workspace, explicit env wins over both.'),
  })
  .describe('Secrets resolved into the guest environment at every boot.');

export const secretStatusSchema = z.strictObject({ ...baseStatusShape });

export type SecretValueFrom = z.infer<typeof valueFromSchema>;
export type SecretValue = z.infer<typeof secretValueSchema>;
export type SecretSpec = z.infer<typeof secretSpecSchema>;
export type SecretSpecInput = z.input<typeof secretSpecSchema>;
export type SecretStatus = z.infer<typeof secretStatusSchema>;
