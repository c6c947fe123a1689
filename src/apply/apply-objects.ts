// Server side of `aegis apply`: writes a set of manifests in one store transaction (all or nothing), in
// kind order, reporting per object created / configured / unchanged, and with prune deletes what this
// source applied before but no longer lists. Objects of other sources or of imperative commands are
// never pruned: ownership is the metadata.source an apply sets (`file:<dir>`), like an ApplySet.
import fastJsonPatch from 'fast-json-patch';
import { invalid } from '../errors/codes.js';
import type { AppSpec } from '../resources/app.js';
import type { Manifest } from '../resources/envelope.js';
import { KINDS, type Kind } from '../resources/kinds.js';
import { summarize } from '../resources/issues.js';
import { validateManifest } from '../resources/manifest.js';
import type { Store } from '../store/store.js';
import type { StoredResource } from '../store/stored-resource.js';
import { appChangeEffect, type ChangeEffect } from './change-effects.js';

export type ApplyAction = 'created' | 'configured' | 'unchanged' | 'pruned';

export interface ApplyResult {
  kind: Kind;
  name: string;
  action: ApplyAction;
  /** The spec generation the object has after this apply (not for pruned ones): what `--wait` waits to see observed. */
  generation?: number;
  /** For a configured App: when the change takes effect, and which fields changed. */
  effect?: ChangeEffect;
  fields?: string[];
  /** RFC 6902 patch from the stored spec to the applied one (secret values redacted). */
  patch?: fastJsonPatch.Operation[];
}

export interface ApplyRequest {
  /** Who applies: `file:<dir>`, `cli:apply`… objects are owned (for prune) by this source. */
  source: string;
  objects: unknown[];
  prune?: boolean;
  /** Prune only objects with these labels. */
  selector?: Record<string, string>;
  dryRun?: boolean;
}

class DryRun extends Error {
  constructor(readonly results: ApplyResult[]) {
    super('dry run');
  }
}

const order = (a: Manifest, b: Manifest) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind) || a.metadata.name.localeCompare(b.metadata.name);
const matches = (labels: Record<string, string>, selector: Record<string, string> | undefined) => !selector || Object.entries(selector).every(([k, v]) => labels[k] === v);

export function applyObjects(store: Store, req: ApplyRequest): ApplyResult[] {
  if (req.source.length === 0 || req.source.length > 1024 || /[\x00-\x1f]/.test(req.source)) throw invalid("apply source must be 1-1024 printable characters");
  // Validate every object before writing any: one error lists them all.
  const issues = [];
  const manifests: Manifest[] = [];
  for (const [i, obj] of req.objects.entries()) {
    try {
      manifests.push(validateManifest(obj));
    } catch (err) {
      const e = err as { issues?: { path: string; message: string }[]; message: string };
      for (const issue of e.issues ?? [{ path: '', message: e.message }]) issues.push({ path: `objects.${i}${issue.path ? `.${issue.path}` : ''}`, message: issue.message });
    }
  }
  // The one line names the first problem's field, as the CLI's own loader does; the rest are in `issues`.
  if (issues.length > 0) throw invalid(summarize('nothing was written', issues), issues);
  manifests.sort(order);
  try {
    return store.transaction(() => {
      const results = manifests.map((m) => applyOne(store, m, req.source));
      if (req.prune) results.push(...prune(store, manifests, req.source, req.selector));
      // A dry run does everything, then rolls back: the results are exactly what a real apply would do.
      if (req.dryRun) throw new DryRun(results);
      return results;
    });
  } catch (err) {
    if (err instanceof DryRun) return err.results;
    throw err;
  }
}

function applyOne(store: Store, m: Manifest, source: string): ApplyResult {
  const { kind } = m;
  const name = m.metadata.name;
  const before = store.get(kind, name);
  if (!before) {
    const created = store.create(kind, { name, labels: m.metadata.labels ?? {}, spec: m.spec, source });
    return { kind, name, action: 'created', generation: created.metadata.generation };
  }
  const patch = specPatch(store, before, m.spec as Record<string, unknown>);
  const after = store.update(kind, before.metadata.uid, { spec: m.spec, labels: m.metadata.labels ?? {}, source });
  const generation = after.metadata.generation;
  if (after.metadata.resourceVersion === before.metadata.resourceVersion) return { kind, name, action: 'unchanged', generation };
  const change = kind === 'App' ? appChangeEffect(before.spec as AppSpec, after.spec as AppSpec) : undefined;
  return { kind, name, action: 'configured', generation, ...(change ? { effect: change.effect, fields: change.fields } : {}), ...(patch.length ? { patch } : {}) };
}

/** The spec patch, with a Secret's values compared in the clear but shown only as `<redacted>`. */
function specPatch(store: Store, before: StoredResource, next: Record<string, unknown>): fastJsonPatch.Operation[] {
  if (before.kind !== 'Secret') return fastJsonPatch.compare(before.spec, JSON.parse(JSON.stringify(next)) as object);
  const old = store.revealSecret(before.metadata.uid);
  const data = (next.data ?? {}) as Record<string, string>;
  const mask = (values: Record<string, string>, changed: (k: string) => boolean) =>
    Object.fromEntries(Object.keys(values).map((k) => [k, changed(k) ? '<redacted:changed>' : '<redacted>']));
  const oldView = { ...before.spec, data: mask(old, () => false) };
  const newView = { ...next, data: mask(data, (k) => k in old && old[k] !== data[k]) };
  return fastJsonPatch.compare(oldView, newView);
}

function prune(store: Store, applied: Manifest[], source: string, selector: Record<string, string> | undefined): ApplyResult[] {
  const keep = new Set(applied.map((m) => `${m.kind}/${m.metadata.name}`));
  const out: ApplyResult[] = [];
  // Reverse kind order: dependents (instances, apps) go before what they depend on (kits, secrets).
  for (const kind of [...KINDS].reverse()) {
    for (const r of store.list(kind)) {
      if (r.metadata.source !== source || keep.has(`${kind}/${r.metadata.name}`) || r.metadata.deletionTimestamp) continue;
      if (!matches(r.metadata.labels, selector)) continue;
      store.delete(kind, r.metadata.uid);
      out.push({ kind, name: r.metadata.name, action: 'pruned' });
    }
  }
  return out;
}
