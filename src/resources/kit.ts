// The Kit kind: a packaged agent runtime (image plus default config) that apps build on; also the seed's flat kit YAML.
import { z } from 'zod';
import { commandSchema } from './command.js';
import { baseStatusShape } from './conditions.js';
import { API_VERSION, type Manifest } from './envelope.js';
import { imageRefSchema } from './image-ref.js';
import { fromZodIssues, throwIfIssues } from './issues.js';
import { resourceDefaultsSchema } from './machine-resources.js';
import { envKeySchema, nameSchema } from './names.js';
import { isPlainObject, plainJsonIssues } from './plain-json.js';
import { portSchema } from './ports.js';

export const kitVersionSchema = z
  .string({ error: 'version must be a string (quote versions such as "1.0" in YAML, which would otherwise read as a number)' })
  .min(1)
  .max(64)
  .regex(/^\S+$/, 'version must not contain whitespace')
  .describe('Kit version, e.g. `1.0.0`.');

export const kitConfigSchema = z
  .strictObject({
    secrets: z
      .strictObject({
        required: z.array(envKeySchema).default([]).describe('Keys an app of this kit must have; without them it is Ready=False, reason MissingSecrets.'),
        optional: z.array(envKeySchema).default([]).describe('Keys the kit reads when present.'),
      })
      .optional(),
    port: portSchema.optional().describe('Port exposed by apps that do not list their own.'),
    command: commandSchema.optional().describe('Main process for apps that do not give their own (the image CMD is ignored).'),
    resources: resourceDefaultsSchema.optional(),
  })
  .describe('Defaults for apps that name this kit.');

export const kitSpecSchema = z
  .strictObject({
    version: kitVersionSchema,
    description: z.string().max(1024).optional().describe('One-line description shown by `aegis kit info`.'),
    image: imageRefSchema,
    config: kitConfigSchema.optional(),
  })
  .describe('A packaged agent runtime.');

export const kitStatusSchema = z.strictObject({ ...baseStatusShape });

export type KitSpec = z.infer<typeof kitSpecSchema>;
export type KitSpecInput = z.input<typeof kitSpecSchema>;
export type KitStatus = z.infer<typeof kitStatusSchema>;
export type KitConfig = z.infer<typeof kitConfigSchema>;

/** The seed's kit file: `name`, `version`, `description`, `image` at top level (plus our optional `config`). */
export const flatKitSchema = z.strictObject({
  name: nameSchema,
  version: kitVersionSchema,
  description: kitSpecSchema.shape.description,
  image: imageRefSchema,
  config: kitConfigSchema.optional(),
});

/** A document in the seed's flat form: no apiVersion/kind, but a top-level name and a version or image. */
export function isFlatKit(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  return !('apiVersion' in value) && !('kind' in value) && 'name' in value && ('version' in value || 'image' in value);
}

/** The issues of a flat kit document, with paths as written in it (`image`, `config.port`). */
export function flatKitIssues(obj: unknown) {
  const plain = plainJsonIssues(obj);
  if (plain.length > 0) return { issues: plain };
  const r = flatKitSchema.safeParse(obj);
  return r.success ? { issues: [], kit: r.data } : { issues: fromZodIssues(r.error.issues) };
}

/** Turns a flat kit document (already parsed from YAML) into a full Kit manifest; throws AEGIS_INVALID listing every problem. */
export function kitFromFlatYaml(obj: unknown): Manifest<'Kit'> {
  if (!isPlainObject(obj)) {
    throwIfIssues('invalid kit manifest', [{ path: [], message: 'a kit manifest must be a mapping with name, version and image' }]);
  }
  const { issues, kit } = flatKitIssues(obj);
  throwIfIssues('invalid kit manifest', issues);
  const { name, ...spec } = kit!;
  return { apiVersion: API_VERSION, kind: 'Kit', metadata: { name }, spec };
}
