// The Release kind: an immutable, published version of an App (image pulled, digest and rootfs recorded).
import { z } from 'zod';
import { baseStatusShape } from './conditions.js';
import { imageRefSchema } from './image-ref.js';
import { nameSchema } from './names.js';
import { quoteInput } from '../util/quote-input.js';

export const RELEASE_LABEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export const releaseLabelSchema = z
  .string()
  .regex(RELEASE_LABEL_PATTERN, { error: (iss) => `${quoteInput(iss.input)} is not a release label: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit` })
  .describe('Human label for a release, e.g. `v1`, `staging`, `1.0.0`.');

/** An App's `release` pin: a release label or a release id (`rel-…`); both fit the label rule. */
export const releasePinSchema = releaseLabelSchema.describe('Release to run: a label (`v1`) or a release id (`rel-…`); absent = the newest release.');

export const releaseSpecSchema = z
  .strictObject({
    app: nameSchema.describe('The app this release belongs to.'),
    label: releaseLabelSchema.optional(),
    image: imageRefSchema.describe('Image reference as published; the digest it resolved to is in status.imageDigest.'),
  })
  .describe('A published version of an app. Immutable: publish a new release instead of editing one.');

export const releasePhaseSchema = z.enum(['Pending', 'Pulling', 'Ready', 'Failed']);

export const releaseStatusSchema = z.strictObject({
  ...baseStatusShape,
  phase: releasePhaseSchema.optional().describe('Pending → Pulling → Ready, or Failed.'),
  imageDigest: z
    .string()
    .regex(/^[a-z0-9]+:[a-f0-9]{32,}$/)
    .optional()
    .describe('Content digest the image reference resolved to, e.g. sha256:…'),
  rootfs: z.string().optional().describe('Path of the unpacked root filesystem artifact.'),
  sequence: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe('Per-app publish order; the highest is the latest release (timestamps are too coarse to order by).'),
});

export type ReleaseSpec = z.infer<typeof releaseSpecSchema>;
export type ReleaseSpecInput = z.input<typeof releaseSpecSchema>;
export type ReleaseStatus = z.infer<typeof releaseStatusSchema>;
export type ReleasePhase = z.infer<typeof releasePhaseSchema>;
