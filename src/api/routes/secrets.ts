// Secret endpoints by key: /v1/apps/{app}/secrets[/{key}] and /v1/secrets[/{key}] (workspace). Values go in
// and never come out: replies, errors and logs carry key names only.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { invalid } from '../../errors/codes.js';
import { envKeySchema } from '../../resources/names.js';
import { deleteSecretKey, secretKeys, setSecretKey, type SecretScope } from '../../model/secret-keys.js';
import { appParams } from '../request-schemas.js';
import { sourceOf } from '../request-source.js';
import { route } from '../route.js';
import type { ApiServices } from '../services.js';
import { quoteInput } from '../../util/quote-input.js';

/** Large enough for a PEM bundle or a service-account JSON; the API body limit is 1 MiB in any case. */
const MAX_VALUE_BYTES = 64 * 1024;

// Never echo the value, not even a prefix of it: these messages name the rule only.
const valueBody = z.object(
  {
    value: z
      .string({ error: 'body must be {"value": "<string>"}' })
      .refine((v) => Buffer.byteLength(v) <= MAX_VALUE_BYTES, { error: `a secret value may be at most ${MAX_VALUE_BYTES} bytes` }),
  },
  { error: 'body must be {"value": "<string>"}' },
);

const keyParams = z.strictObject({ key: z.string() });
const appKeyParams = z.strictObject({ app: z.string(), key: z.string() });
const keys = z.array(z.string());

/** The key as the message the CLI shows (`secret key "bad-key": …`); the key is a name, never a value. */
function checkKey(key: string): void {
  const r = envKeySchema.safeParse(key);
  if (!r.success) throw invalid(`secret key ${quoteInput(key)}: ${r.error.issues[0]?.message ?? 'invalid'}`, [{ path: 'key', message: r.error.issues[0]?.message ?? 'invalid' }]);
}

export function secretRoutes(app: FastifyInstance, s: ApiServices): void {
  const appScope = (ref: string): SecretScope => s.store.mustGet('App', ref).metadata.name;

  route(app, {
    method: 'GET',
    url: '/v1/apps/:app/secrets',
    params: appParams,
    replies: { 200: z.strictObject({ app: z.string(), keys }) },
    handler: async ({ params }) => {
      const scope = appScope(params.app);
      return { app: scope, keys: secretKeys(s.store, scope) };
    },
  });
  route(app, {
    method: 'PUT',
    url: '/v1/apps/:app/secrets/:key',
    params: appKeyParams,
    body: valueBody,
    replies: { 200: z.strictObject({ app: z.string(), key: z.string() }) },
    handler: async ({ params, body, req }) => {
      const scope = appScope(params.app);
      checkKey(params.key);
      setSecretKey(s.store, scope, params.key, body.value, sourceOf(req.headers));
      return { app: scope, key: params.key };
    },
  });
  route(app, {
    method: 'DELETE',
    url: '/v1/apps/:app/secrets/:key',
    params: appKeyParams,
    replies: { 200: z.strictObject({ app: z.string(), key: z.string() }) },
    handler: async ({ params }) => {
      const scope = appScope(params.app);
      deleteSecretKey(s.store, scope, params.key);
      return { app: scope, key: params.key };
    },
  });

  route(app, {
    method: 'GET',
    url: '/v1/secrets',
    replies: { 200: z.strictObject({ keys }) },
    handler: async () => ({ keys: secretKeys(s.store, undefined) }),
  });
  route(app, {
    method: 'PUT',
    url: '/v1/secrets/:key',
    params: keyParams,
    body: valueBody,
    replies: { 200: z.strictObject({ key: z.string() }) },
    handler: async ({ params, body, req }) => {
      checkKey(params.key);
      setSecretKey(s.store, undefined, params.key, body.value, sourceOf(req.headers));
      return { key: params.key };
    },
  });
  route(app, {
    method: 'DELETE',
    url: '/v1/secrets/:key',
    params: keyParams,
    replies: { 200: z.strictObject({ key: z.string() }) },
    handler: async ({ params }) => {
      deleteSecretKey(s.store, undefined, params.key);
      return { key: params.key };
    },
  });
}
