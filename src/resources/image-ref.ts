// The image reference field shared by App, Release, Kit, Instance and Task.
import { z } from 'zod';

// Full reference grammar is the puller's job (it also accepts oci:DIR and docker-archive:FILE); here only what no valid ref can be.
export const imageRefSchema = z
  .string()
  .min(1, 'image reference must not be empty')
  .max(1024)
  .regex(/^\S+$/, 'image reference must not contain whitespace')
  .describe('OCI image reference (`alpine:3.21`, `ghcr.io/org/img@sha256:…`), `oci:DIR` or `docker-archive:FILE.tar`.');

export const pullPolicySchema = z
  .enum(['always', 'missing', 'never'])
  .describe('When to contact the registry: `always`, `missing` (only when the image is not cached; the default) or `never`.');
