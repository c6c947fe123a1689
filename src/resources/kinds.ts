// The registry of resource kinds: their order, names, id prefixes and schemas, and spec/status validation.
import type { z } from 'zod';
import { invalid } from '../errors/codes.js';
import { envelopeSchema, labelsSchema } from './envelope.js';
import { appSpecSchema, appStatusSchema, type AppSpec, type AppStatus } from './app.js';
import { instanceSpecSchema, instanceStatusSchema, type InstanceSpec, type InstanceStatus } from './instance.js';
import { fromZodIssues, throwIfIssues, type RawIssue } from './issues.js';
import { kitSpecSchema, kitStatusSchema, type KitSpec, type KitStatus } from './kit.js';
import { ID_PREFIXES } from './names.js';
import { plainJsonIssues } from './plain-json.js';
import { releaseSpecSchema, releaseStatusSchema, type ReleaseSpec, type ReleaseStatus } from './release.js';
import { secretSpecSchema, secretStatusSchema, type SecretSpec, type SecretStatus } from './secret.js';
import { taskSpecSchema, taskStatusSchema, type TaskSpec, type TaskStatus } from './task.js';
import { quoteInput } from '../util/quote-input.js';

/** Every kind, in dependency order: apply writes them in this order and deletes in reverse. */
export const KINDS = ['Secret', 'Kit', 'App', 'Release', 'Instance', 'Task'] as const;
export type Kind = (typeof KINDS)[number];

interface KindTypes {
  Secret: { spec: SecretSpec; status: SecretStatus };
  Kit: { spec: KitSpec; status: KitStatus };
  App: { spec: AppSpec; status: AppStatus };
  Release: { spec: ReleaseSpec; status: ReleaseStatus };
  Instance: { spec: InstanceSpec; status: InstanceStatus };
  Task: { spec: TaskSpec; status: TaskStatus };
}
export type SpecOf<K extends Kind> = KindTypes[K]['spec'];
export type StatusOf<K extends Kind> = KindTypes[K]['status'];

export interface KindInfo<K extends Kind = Kind> {
  kind: K;
  /** Lowercase plural, as in `/v1/resources/apps` and `aegis get apps`. */
  plural: string;
  /** Lowercase singular, as used in messages (`app "web" not found`). */
  singular: string;
  idPrefix: string;
  spec: z.ZodType<SpecOf<K>>;
  status: z.ZodType<StatusOf<K>>;
}

const info = <K extends Kind>(kind: K, plural: string, spec: z.ZodType<SpecOf<K>>, status: z.ZodType<StatusOf<K>>): KindInfo<K> => ({
  kind,
  plural,
  singular: kind.toLowerCase(),
  idPrefix: ID_PREFIXES[kind],
  spec,
  status,
});

export const kindInfo: { readonly [K in Kind]: KindInfo<K> } = {
  Secret: info('Secret', 'secrets', secretSpecSchema, secretStatusSchema),
  Kit: info('Kit', 'kits', kitSpecSchema, kitStatusSchema),
  App: info('App', 'apps', appSpecSchema, appStatusSchema),
  Release: info('Release', 'releases', releaseSpecSchema, releaseStatusSchema),
  Instance: info('Instance', 'instances', instanceSpecSchema, instanceStatusSchema),
  Task: info('Task', 'tasks', taskSpecSchema, taskStatusSchema),
};

export const isKind = (s: unknown): s is Kind => typeof s === 'string' && (KINDS as readonly string[]).includes(s);

/** `app`, `apps`, `App` (any case, singular or plural) → `App`; anything else is a one-line AEGIS_INVALID listing the kinds. */
export function parseKind(s: string): Kind {
  const lower = s.toLowerCase();
  const found = KINDS.find((k) => kindInfo[k].singular === lower || kindInfo[k].plural === lower);
  if (!found) throw invalid(`unknown kind ${quoteInput(s)}: expected one of ${KINDS.join(', ')} (or their lowercase singular or plural)`);
  return found;
}

/** Spec problems with paths rooted at `spec` (e.g. `spec.expose.0`). */
export function specIssues(kind: Kind, spec: unknown, prefix: (string | number)[] = ['spec']): { issues: RawIssue[]; value?: unknown } {
  const plain = plainJsonIssues(spec, prefix);
  // Zod would silently drop a __proto__ key; the plain-JSON check has reported it, so stop here.
  if (plain.length > 0) return { issues: plain };
  const r = (kindInfo[kind].spec as z.ZodType).safeParse(spec);
  return r.success ? { issues: [], value: r.data } : { issues: fromZodIssues(r.error.issues, prefix) };
}

/** Parses a spec, filling defaults; throws AEGIS_INVALID with one FieldIssue per problem (`spec.expose.0`). */
export function validateSpec<K extends Kind>(kind: K, spec: unknown): SpecOf<K> {
  const { issues, value } = specIssues(kind, spec);
  throwIfIssues(`invalid ${kindInfo[kind].singular} spec`, issues);
  return value as SpecOf<K>;
}

/** Labels as an API body gives them (the store's other writers pass validated manifests): AEGIS_INVALID at `metadata.labels.KEY`. */
export function validateLabels(labels: unknown): Record<string, string> {
  const path = ['metadata', 'labels'];
  throwIfIssues('invalid labels', plainJsonIssues(labels, path));
  const r = labelsSchema.safeParse(labels);
  if (!r.success) throwIfIssues('invalid labels', fromZodIssues(r.error.issues, path));
  return r.data!;
}

/** Parses a status written by a controller (catches a controller bug before it is stored). */
export function validateStatus<K extends Kind>(kind: K, status: unknown): StatusOf<K> {
  const plain = plainJsonIssues(status, ['status']);
  throwIfIssues(`invalid ${kindInfo[kind].singular} status`, plain);
  const r = (kindInfo[kind].status as z.ZodType).safeParse(status);
  if (!r.success) throwIfIssues(`invalid ${kindInfo[kind].singular} status`, fromZodIssues(r.error.issues, ['status']));
  return r.data as StatusOf<K>;
}

const manifestSchemas = new Map<Kind, z.ZodType>();

/** The strict schema of a whole manifest of this kind (envelope + spec + optional status). */
export function manifestSchema(kind: Kind): z.ZodType {
  let s = manifestSchemas.get(kind);
  if (!s) {
    s = envelopeSchema(kind, kindInfo[kind].spec, kindInfo[kind].status);
    manifestSchemas.set(kind, s);
  }
  return s;
}
