// Secret endpoints by key: /v1/apps/{app}/secrets[/{key}] and /v1/secrets[/{key}] (workspace). Values go in
// and never come out: replies, errors and logs carry key names only.
import type { FastifyInstance } from 'fastify';
import { invalid } from '../../errors/codes.js';
import { envKeySchema } from '../../resources/names.js';
import { deleteSecretKey, secretKeys, setSecretKey, type SecretScope } from '../../model/secret-keys.js';
import { sourceOf } from '../request-source.js';
import type { ApiServices } from '../services.js';
import { quoteInput } from '../../util/quote-input.js';

/** Large enough for a PEM bundle or a service-account JSON; the API body limit is 1 MiB in any case. */
const MAX_VALUE_BYTES = 64 * 1024;

function checkKey(key: string): void {
  const r = envKeySchema.safeParse(key);
  if (!r.success) throw invalid(`secret key ${quoteInput(key)}: ${r.error.issues[0]?.message ?? 'invalid'}`);
}

function checkValue(body: { value?: unknown } | undefined): string {
  const value = body?.value;
  // Never echo the value: not even a prefix of it.
  if (typeof value !== 'string') throw invalid('body must be {"value": "<string>"}');
  if (Buffer.byteLength(value) > MAX_VALUE_BYTES) throw invalid(`a secret value may be at most ${MAX_VALUE_BYTES} bytes`);
  return value;
}

export function secretRoutes(app: FastifyInstance, s: ApiServices): void {
  const appScope = (ref: string): SecretScope => s.store.mustGet('App', ref).metadata.name;


  app.get<{ Params: { app: string } }>('/v1/apps/:app/secrets', async (req) => {
    const scope = appScope(req.params.app);
    return { app: scope, keys: secretKeys(s.store, scope) };
  });
  app.put<{ Params: { app: string; key: string }; Body: { value?: unknown } }>('/v1/apps/:app/secrets/:key', async (req) => {
    const scope = appScope(req.params.app);
    checkKey(req.params.key);
    setSecretKey(s.store, scope, req.params.key, checkValue(req.body), sourceOf(req.headers));
    return { app: scope, key: req.params.key };
  });
  app.delete<{ Params: { app: string; key: string } }>('/v1/apps/:app/secrets/:key', async (req) => {
    const scope = appScope(req.params.app);
    deleteSecretKey(s.store, scope, req.params.key);
    return { app: scope, key: req.params.key };
  });

  app.get('/v1/secrets', async () => ({ keys: secretKeys(s.store, undefined) }));
  app.put<{ Params: { key: string }; Body: { value?: unknown } }>('/v1/secrets/:key', async (req) => {
    checkKey(req.params.key);
    setSecretKey(s.store, undefined, req.params.key, checkValue(req.body), sourceOf(req.headers));
    return { key: req.params.key };
  });
  app.delete<{ Params: { key: string } }>('/v1/secrets/:key', async (req) => {
    deleteSecretKey(s.store, undefined, req.params.key);
    return { key: req.params.key };
  });
}
