// Generated bad manifests through the real loader (loadManifests: the CLI's apply, diff and delete -f, and the
// watched directory): valid manifests mutated field by field, their YAML/JSON text mutated byte by byte, and
// the classic hostile documents (deep nesting, duplicate keys, alias bombs, huge and unicode values).
// Invariant: every document is either accepted as a manifest that validates again and survives the store's
// JSON round trip, or refused with one AEGIS_INVALID line that names the field; nothing else is thrown.
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadManifests } from '../../src/apply/load-manifests.js';
import { validateManifest } from '../../src/resources/manifest.js';
import { expectInvalid, FUZZ_TIMEOUT_MS, fuzzParams, hostileString, mutate, mutationOf, nested } from './support/fuzz.js';

const BASES: Record<string, unknown>[] = [
  {
    apiVersion: 'aegis.dev/v1',
    kind: 'App',
    metadata: { name: 'web', labels: { team: 'a' } },
    spec: { image: 'busybox:1.36', command: ['httpd', '-f', '-p', '80'], expose: [80], env: { MODE: 'prod' }, secrets: ['API_KEY'], resources: { memory: '256Mi', vcpus: 1 }, idle: { pauseAfter: '5m' }, serve: true },
  },
  { apiVersion: 'aegis.dev/v1', kind: 'Secret', metadata: { name: 'keys' }, spec: { app: 'web', data: { API_KEY: 'v', OTHER: { valueFrom: { env: 'HOME' } } } } },
  { apiVersion: 'aegis.dev/v1', kind: 'Task', metadata: { name: 'job' }, spec: { image: 'busybox:1.36', command: ['true'], ttlSeconds: 60, network: { egress: 'none' } } },
  { apiVersion: 'aegis.dev/v1', kind: 'Kit', metadata: { name: 'kit' }, spec: { version: '1.0', image: 'busybox:1.36', config: { port: 8080, secrets: { required: ['A'] } } } },
  { name: 'flat-kit', version: '1.0', description: 'a kit in the seed form', image: 'busybox:1.36' },
];

/** Reads `text` as the CLI reads `aegis apply -f -`: the real loader, with an environment of one variable. */
function load(text: string) {
  return loadManifests(['-'], { recursive: false, env: { HOME: '/root' }, stdinText: text });
}

/** The invariant: accepted and sound, or refused with one line naming the field. */
function check(text: string): 'accepted' | 'refused' {
  let loaded;
  try {
    loaded = load(text);
  } catch (err) {
    expectInvalid(err);
    return 'refused';
  }
  for (const { manifest } of loaded) {
    // What was accepted validates again unchanged and is plain JSON (what the store keeps).
    expect(validateManifest(manifest)).toEqual(manifest);
    expect(JSON.parse(JSON.stringify(manifest))).toEqual(manifest);
  }
  return 'accepted';
}

// Structured mutations: walk to a field by index (so every field is reachable) and set, delete or add there.
const mutation = mutationOf(['name', 'image', 'command', 'expose', 'env', 'kind', 'apiVersion', 'spec', 'metadata', 'items']);

const serialize = (doc: unknown, as: 'yaml' | 'json' | 'list'): string => {
  if (as === 'json') return JSON.stringify(doc);
  if (as === 'list') return JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [doc] });
  try {
    return stringify(doc, { aliasDuplicateObjects: false });
  } catch {
    return JSON.stringify(doc) ?? 'null';
  }
};

const mutatedDocument = fc
  .tuple(fc.constantFrom(...BASES), fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.constantFrom<'yaml' | 'json' | 'list'>('yaml', 'json', 'list'))
  .map(([base, ms, as]) => serialize(ms.reduce<unknown>(mutate, structuredClone(base)), as));

// Text mutations: the serialized valid documents with bytes inserted, deleted, lines duplicated (duplicate keys).
type Edit = { at: number; op: 'insert' | 'delete' | 'dup-line' | 'truncate'; text: string };
const edit: fc.Arbitrary<Edit> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('insert', 'delete', 'dup-line', 'truncate'),
  text: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(':', '- ', '&a ', '*a', '!!binary ', '? ', '{', ']', '"', "'", '\t', '\n  ', '---\n', '...\n', '<<: *a\n', '%YAML 1.1\n', '\ufeff', '#')),
});

function applyEdit(text: string, e: Edit): string {
  const at = text.length === 0 ? 0 : e.at % text.length;
  switch (e.op) {
    case 'insert':
      return text.slice(0, at) + e.text + text.slice(at);
    case 'delete':
      return text.slice(0, at) + text.slice(at + 1 + (e.at % 7));
    case 'truncate':
      return text.slice(0, at);
    case 'dup-line': {
      const lines = text.split('\n');
      const n = e.at % lines.length;
      lines.splice(n, 0, lines[n]!);
      return lines.join('\n');
    }
  }
}

const editedText = fc
  .tuple(fc.constantFrom(...BASES), fc.constantFrom<'yaml' | 'json'>('yaml', 'json'), fc.array(edit, { minLength: 1, maxLength: 5 }))
  .map(([base, as, edits]) => edits.reduce(applyEdit, as === 'json' ? JSON.stringify(base, null, 2) : stringify(base)));

// The classic hostile documents, each with a size drawn at random.
const billionLaughs = (width: number, levels: number): string => {
  const out = [`a0: &a0 [${Array(width).fill('"lol"').join(', ')}]`];
  for (let i = 1; i <= levels; i++) out.push(`a${i}: &a${i} [${Array(width).fill(`*a${i - 1}`).join(', ')}]`);
  return `apiVersion: aegis.dev/v1\nkind: App\nmetadata: {name: web}\nspec:\n  image: busybox\n  command: [x]\n  env:\n${out.map((l) => `    ${l}`).join('\n')}\n`;
};
const hostileDocument = fc.oneof(
  fc.tuple(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 12 })).map(([w, l]) => billionLaughs(w, l)),
  fc.integer({ min: 10, max: 20_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 10, max: 20_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
  fc.integer({ min: 10, max: 5_000 }).map((n) => `apiVersion: aegis.dev/v1\nkind: App\nmetadata: {name: web}\nspec: ${'['.repeat(n)}${']'.repeat(n)}\n`),
  fc.integer({ min: 50, max: 2_000 }).map((n) => serialize({ ...BASES[0], spec: { ...(BASES[0]!.spec as object), env: nested(n, 'object') } }, 'json')),
  fc.tuple(hostileString, fc.constantFrom(...BASES.slice(0, 4))).map(([name, base]) => serialize({ ...base, metadata: { name } }, 'yaml')),
  fc.tuple(hostileString, hostileString).map(([k, v]) => serialize({ ...BASES[0], spec: { ...(BASES[0]!.spec as object), env: { [k]: v } } }, 'json')),
  fc.constantFrom('', '---', '~', 'null', '[]', '{}', '"x"', '42', '!!js/function "f"', '*a', '&a [*a]', 'a: &a [*a]', 'x: !!binary AAAA', '? [a]\n: b', '<<: {kind: App}'),
  // duplicate keys, in YAML and in JSON (where JSON.parse would silently keep the last)
  fc.constantFrom('kind', 'spec', 'name', 'image').map((k) => `{"apiVersion":"aegis.dev/v1","kind":"App","metadata":{"name":"web"},"spec":{"image":"busybox","command":["x"],"${k}":1,"${k}":2}}`),
  fc.constantFrom('kind: App', 'kind: Task').map((dup) => `apiVersion: aegis.dev/v1\nkind: App\n${dup}\nmetadata: {name: web}\nspec: {image: busybox, command: [x]}\n`),
);

describe('fuzzed manifests through the real loader', () => {
  it('mutated fields: accepted whole or refused with one line naming the field', () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(fc.property(mutatedDocument, (text) => void seen[check(text)]++), fuzzParams('manifests: mutated fields', 400));
    // The generator must reach both outcomes, or it tests nothing.
    expect(seen.refused).toBeGreaterThan(0);
  }, FUZZ_TIMEOUT_MS);

  it('mutated YAML and JSON text: accepted whole or refused with one line naming the field', () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(fc.property(editedText, (text) => void seen[check(text)]++), fuzzParams('manifests: mutated text', 400));
    expect(seen.accepted).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  }, FUZZ_TIMEOUT_MS);

  it('hostile documents (nesting, alias bombs, duplicate keys, unicode and huge values): refused with one line, quickly', () => {
    fc.assert(
      fc.property(hostileDocument, (text) => {
        const started = performance.now();
        check(text);
        expect(performance.now() - started, 'one document is judged in well under a second').toBeLessThan(1_000);
      }),
      fuzzParams('manifests: hostile documents', 200),
    );
  }, FUZZ_TIMEOUT_MS);
});
