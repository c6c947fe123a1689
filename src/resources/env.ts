// The `env` field: environment variables set in the guest, explicit values winning over secrets.
import { z } from 'zod';
import { envKeySchema } from './names.js';

export const envValueSchema = z.string({ error: 'environment values must be strings (quote numbers and booleans in YAML)' });

export const envSchema = z
  .record(envKeySchema, envValueSchema)
  .describe('Environment variables for the main process; these win over app and workspace secrets of the same name.');

export type Env = z.infer<typeof envSchema>;
