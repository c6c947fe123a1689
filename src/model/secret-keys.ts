// Secrets key by key, as `aegis secret set|list|delete` see them: a scope (one app, or the workspace) may
// hold several Secret resources (applied files, imperative writes); keys are looked up across all of them.
import crypto from 'node:crypto';
import { notFound } from '../errors/codes.js';
import type { SecretSpec } from '../resources/secret.js';
import type { Store } from '../store/store.js';
import type { StoredResource } from '../store/stored-resource.js';
import { IMPERATIVE_SECRET_LABEL } from './metadata-keys.js';

/** undefined = the workspace scope. */
export type SecretScope = string | undefined;

const scopeName = (app: SecretScope) => (app === undefined ? 'workspace' : app);
const describeScope = (app: SecretScope) => (app === undefined ? 'the workspace' : app);

function secretsOf(store: Store, app: SecretScope): StoredResource<SecretSpec>[] {
  return store.list<SecretSpec>('Secret').filter((s) => s.spec.app === app && !s.metadata.deletionTimestamp);
}

/** Key names of a scope, sorted; values never leave the store here. */
export function secretKeys(store: Store, app: SecretScope): string[] {
  const keys = new Set<string>();
  for (const s of secretsOf(store, app)) for (const k of Object.keys(s.spec.data)) keys.add(k);
  return [...keys].sort();
}

/** Sets one key: in the Secret that holds it already, else in the scope's imperative Secret (created on first use). */
export function setSecretKey(store: Store, app: SecretScope, key: string, value: string, source: string): void {
  store.transaction(() => {
    const all = secretsOf(store, app);
    const holder = all.find((s) => key in s.spec.data) ?? all.find((s) => s.metadata.labels[IMPERATIVE_SECRET_LABEL] === 'imperative');
    if (holder) {
      // Other keys go back sealed as stored: the store keeps a sealed value it sealed for the same key.
      store.update('Secret', holder.metadata.uid, { spec: { ...holder.spec, data: { ...holder.spec.data, [key]: value } } });
      return;
    }
    store.create('Secret', {
      name: freeName(store, scopeName(app)),
      labels: { [IMPERATIVE_SECRET_LABEL]: 'imperative' },
      spec: { ...(app !== undefined ? { app } : {}), data: { [key]: value } },
      source,
    });
  });
}

/** Removes a key from every Secret of the scope; an imperative Secret left empty is deleted. */
export function deleteSecretKey(store: Store, app: SecretScope, key: string): void {
  store.transaction(() => {
    const holders = secretsOf(store, app).filter((s) => key in s.spec.data);
    if (holders.length === 0) throw notFound(`secret ${key} not found in ${describeScope(app)}`);
    for (const s of holders) {
      const { [key]: _gone, ...rest } = s.spec.data;
      if (Object.keys(rest).length === 0 && s.metadata.labels[IMPERATIVE_SECRET_LABEL] === 'imperative') store.delete('Secret', s.metadata.uid);
      else store.update('Secret', s.metadata.uid, { spec: { ...s.spec, data: rest } });
    }
  });
}

/** `base` when no Secret has that name yet, else `base` (shortened) plus a random suffix. */
function freeName(store: Store, base: string): string {
  if (!store.get('Secret', base)) return base;
  for (;;) {
    const name = `${base.slice(0, 56)}-${crypto.randomBytes(3).toString('hex')}`;
    if (!store.get('Secret', name)) return name;
  }
}
