// Reading manifest files (multi-document YAML, JSON object/array/List) into validated manifests, or one error listing every problem with its file:line:col.
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { invalid, type FieldIssue } from '../errors/codes.js';
import { API_VERSION, metadataSchema, type Manifest } from './envelope.js';
import { dottedPath, formatIssues, fromZodIssues, throwIfIssues, toFieldIssue, type PathSegment, type RawIssue } from './issues.js';
import { scanJson } from './json-positions.js';
import { flatKitIssues, isFlatKit } from './kit.js';
import { isKind, KINDS, manifestSchema } from './kinds.js';
import { FORBIDDEN_KEYS } from './names.js';
import { isPlainObject, plainJsonIssues } from './plain-json.js';
import { jsonLocator, lineColumns, yamlLocator, type SourceLocator } from './source-locator.js';
import { escapeUnprintable, quoteInput } from '../util/quote-input.js';

export interface ParsedManifest {
  /** Validated, with defaults filled in (so it compares equal to what the store keeps). */
  manifest: Manifest;
  file: string;
  /** 1-based line where the object starts. */
  line: number;
  /** 0-based position among the objects in the file (after expanding arrays and Lists, skipping empty documents). */
  index: number;
}

// Used only when `kind` is not a known kind: reports the envelope's other problems without a spec schema to apply.
const unknownKindEnvelope = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.string().refine(isKind, { error: (iss) => `unknown kind ${quoteInput(iss.input)}: expected one of ${KINDS.join(', ')}` }),
  metadata: metadataSchema,
  spec: z.unknown(),
  status: z.unknown().optional(),
});

const touchesForbiddenKey = (i: RawIssue) => i.path.some((p) => typeof p === 'string' && FORBIDDEN_KEYS.has(p));

/** Every problem of one manifest object (paths relative to it), and the parsed manifest when there are none. */
export function checkManifest(value: unknown): { issues: RawIssue[]; manifest?: Manifest } {
  if (!isPlainObject(value)) {
    return { issues: [{ path: [], message: 'a manifest must be a mapping with apiVersion, kind, metadata and spec' }] };
  }
  if (isFlatKit(value)) {
    // The seed's kit file (name/version/description/image at top level) is accepted as is.
    const { issues, kit } = flatKitIssues(value);
    if (issues.length > 0 || !kit) return { issues };
    const { name, ...spec } = kit;
    return { issues: [], manifest: { apiVersion: API_VERSION, kind: 'Kit', metadata: { name }, spec } };
  }
  const plain = plainJsonIssues(value);
  const schema = isKind(value.kind) ? manifestSchema(value.kind) : unknownKindEnvelope;
  const r = schema.safeParse(value);
  // Zod reports (or silently drops) forbidden keys and non-JSON values on its own; the plain-JSON check already named them.
  const plainPaths = new Set(plain.map((i) => dottedPath(i.path)));
  const zodIssues = r.success ? [] : fromZodIssues(r.error.issues).filter((i) => !touchesForbiddenKey(i) && !plainPaths.has(dottedPath(i.path)));
  const issues = [...plain, ...zodIssues];
  if (issues.length > 0 || !r.success) return { issues };
  return { issues: [], manifest: r.data as Manifest };
}

/** Validates one manifest object that did not come from a file (e.g. an API body); throws AEGIS_INVALID with field paths. */
export function validateManifest(value: unknown): Manifest {
  const { issues, manifest } = checkManifest(value);
  throwIfIssues('invalid manifest', issues);
  return manifest!;
}

interface SourceDoc {
  value: unknown;
  locator: SourceLocator;
}

interface Collected {
  docs: SourceDoc[];
  /** Syntax problems: offset in the text and message. */
  syntax: { offset: number; message: string }[];
}

function readYaml(text: string): Collected {
  const out: Collected = { docs: [], syntax: [] };
  for (const doc of parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true })) {
    if (doc.errors.length > 0) {
      // A document with syntax errors is not validated further: its tree is not what the author meant.
      // The yaml library's messages can quote the source, newlines included.
      for (const e of doc.errors) out.syntax.push({ offset: e.pos[0], message: `invalid YAML: ${escapeUnprintable(e.message)}` });
      continue;
    }
    if (doc.contents === null) continue;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      out.syntax.push({ offset: doc.contents.range?.[0] ?? 0, message: `invalid YAML: ${escapeUnprintable((e as Error).message)}` });
      continue;
    }
    if (value === null || value === undefined) continue;
    out.docs.push({ value, locator: yamlLocator(doc) });
  }
  return out;
}

function readJson(text: string): Collected {
  // The scanner refuses what JSON.parse would (and duplicate keys and absurd nesting, which it would not),
  // with the offset; its nesting bound also keeps it off the end of the stack.
  const scan = scanJson(text);
  if (!scan.ok) return { docs: [], syntax: [{ offset: scan.offset, message: `invalid JSON: ${scan.message}` }] };
  return { docs: [{ value: JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text), locator: jsonLocator(scan.positions) }], syntax: [] };
}

function looksLikeJson(text: string, file: string): boolean {
  if (/\.json$/i.test(file)) return true;
  // YAML flow style also starts with { or [, so only call it JSON when it parses as JSON.
  if (!/^\uFEFF?\s*[[{]/.test(text)) return false;
  try {
    JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    return true;
  } catch {
    return false;
  }
}

const listSchema = z.strictObject({
  apiVersion: z.string().optional(),
  kind: z.literal('List'),
  items: z.array(z.unknown()),
});

/** The manifest objects in one document: the document itself, the items of an array, or the items of a `kind: List`. */
function expand(value: unknown): { items: { item: unknown; base: PathSegment[] }[]; issues: RawIssue[] } {
  if (Array.isArray(value)) return { items: value.map((item, i) => ({ item, base: [i] })), issues: [] };
  if (isPlainObject(value) && value.kind === 'List') {
    const r = listSchema.safeParse(value);
    if (!r.success) return { items: [], issues: fromZodIssues(r.error.issues) };
    return { items: r.data.items.map((item, i) => ({ item, base: ['items', i] })), issues: [] };
  }
  return { items: [{ item: value, base: [] }], issues: [] };
}

/**
 * Parses and fully validates every manifest in a file. Nothing is returned unless everything is valid: the
 * one AEGIS_INVALID thrown lists every problem of every document, each with `location: file:line:col`.
 */
export function parseManifests(text: string, file: string): ParsedManifest[] {
  const at = lineColumns(text);
  const found: { offset: number; raw: RawIssue }[] = [];
  const { docs, syntax } = looksLikeJson(text, file) ? readJson(text) : readYaml(text);
  for (const s of syntax) found.push({ offset: s.offset, raw: { path: [], message: s.message } });

  const out: ParsedManifest[] = [];
  const seen = new Map<string, number>();
  let index = 0;
  for (const { value, locator } of docs) {
    const { items, issues: listIssues } = expand(value);
    for (const raw of listIssues) found.push({ offset: locator.offset(raw.path, raw.onKey ?? false), raw });
    for (const { item, base } of items) {
      const line = at(locator.offset(base, false)).line;
      const { issues, manifest } = checkManifest(item);
      for (const raw of issues) found.push({ offset: locator.offset([...base, ...raw.path], raw.onKey ?? false), raw });
      if (manifest) {
        // Two definitions of one object in a file: the later would silently win, so refuse.
        const id = `${manifest.kind}/${manifest.metadata.name}`;
        const first = seen.get(id);
        if (first !== undefined) {
          const path: PathSegment[] = isFlatKit(item) ? ['name'] : ['metadata', 'name'];
          found.push({
            offset: locator.offset([...base, ...path], false),
            raw: { path, message: `${manifest.kind} ${JSON.stringify(manifest.metadata.name)} is already defined at line ${first}` },
          });
        } else seen.set(id, line);
        out.push({ manifest, file, line, index });
      }
      index++;
    }
  }

  if (found.length > 0) {
    found.sort((a, b) => a.offset - b.offset);
    const issues: FieldIssue[] = found.map(({ offset, raw }) => {
      const { line, col } = at(offset);
      return toFieldIssue(raw, `${file}:${line}:${col}`);
    });
    const n = issues.length;
    const first = formatIssues([issues[0]]);
    throw invalid(n === 1 ? `1 problem in ${file}: ${first}` : `${n} problems in ${file}; first: ${first}`, issues);
  }
  return out;
}
