// Reads manifest files for apply, diff, delete -f and the watched directory: files and directories (YAML
// or JSON, multi-document), every document validated before anything is returned, and `valueFrom` secret
// references resolved here, on the reading side, so plaintext never has to live in the files.
// The CLI reads with the authority of the user running it. The daemon reads a watched directory as root on
// behalf of whoever can write there, so it reads only inside it (`confined`).
import fs from 'node:fs';
import path from 'node:path';
import { invalid, type FieldIssue } from '../errors/codes.js';
import { parseImageRef, type ImageRef } from '../images/reference.js';
import type { Manifest } from '../resources/envelope.js';
import { parseManifests, type ParsedManifest } from '../resources/manifest.js';
import type { SecretValue } from '../resources/secret.js';
import type { ConfinedDir } from '../util/confined-dir.js';
import { ConfinementError } from '../util/confinement-error.js';
import type { ParseCache } from './parse-cache.js';
import { clipInput } from '../util/quote-input.js';

export interface LoadedManifest extends ParsedManifest {
  manifest: Manifest;
}

export interface LoadOptions {
  /** Descend into subdirectories. */
  recursive: boolean;
  /** Where `valueFrom.env` is read (the CLI's environment, or the daemon's for a watched directory). */
  env: NodeJS.ProcessEnv;
  /** The text of `-` (stdin), read by the caller. */
  stdinText?: string;
  /** Set for the watched directory: what its manifests may read. */
  confined?: Confinement;
  /** Files parsed before, by path and content (see parse-cache.ts). */
  cache?: ParseCache;
}

export interface Confinement {
  /** Manifest files, `valueFrom.file` and local image refs (`oci:`, `docker-archive:`) only from inside it. */
  dir: ConfinedDir;
  /** The only variables `valueFrom.env` may read, and the setting that lists them (named in errors). */
  env: { allowed: readonly string[]; setting: string };
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;
/** Larger files are refused when confined: a manifest or secret value that big is a mistake or an attack. */
const MAX_CONFINED_FILE_BYTES = 4 * 1024 * 1024;

/**
 * The manifest files a path names: the file itself, or the directory's *.yaml|*.yml|*.json (sorted).
 * Symlinked subdirectories are not descended. With `confined`, a symlinked manifest file or subdirectory
 * that leads outside is an issue (and is not read).
 */
export function manifestFiles(target: string, recursive: boolean, confined?: ConfinedDir, issues: FieldIssue[] = []): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch {
    throw invalid(`cannot read ${clipInput(target)}: no such file or directory`);
  }
  if (!st.isDirectory()) return [target];
  const out: string[] = [];
  for (const entry of fs.readdirSync(target, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(target, entry.name);
    if (confined && entry.isSymbolicLink()) {
      // A link to a manifest file inside is read like one (and anything else it might be is refused there).
      const kind = symlinkKind(confined, full, issues);
      if (kind !== undefined && kind !== 'directory' && MANIFEST_FILE.test(entry.name)) out.push(full);
    } else if (entry.isDirectory()) {
      if (recursive) out.push(...manifestFiles(full, true, confined, issues));
    } else if (MANIFEST_FILE.test(entry.name)) out.push(full);
  }
  return out;
}

/**
 * What a symlink in a confined directory leads to, when it is one we would read (a manifest file, a
 * directory); one that leads outside (or nowhere) is an issue. Others (a README link) are none of our business.
 */
function symlinkKind(confined: ConfinedDir, link: string, issues: FieldIssue[]): ReturnType<ConfinedDir['kindOf']> | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(link);
  } catch {
    if (MANIFEST_FILE.test(link)) issues.push({ location: link, path: '', message: 'is a symlink to nothing; not read' });
    return undefined;
  }
  if (!st.isDirectory() && !MANIFEST_FILE.test(link)) return undefined;
  try {
    return confined.kindOf(link);
  } catch (err) {
    issues.push({ location: link, path: '', message: err instanceof ConfinementError ? err.reason : (err as Error).message });
    return undefined;
  }
}

/** Every object of every file, or one AEGIS_INVALID listing every problem (with file:line:col) of all of them. */
export function loadManifests(targets: string[], opts: LoadOptions): LoadedManifest[] {
  const issues: FieldIssue[] = [];
  const loaded: LoadedManifest[] = [];
  const seen = new Map<string, string>();
  for (const target of targets) {
    const files = target === '-' ? ['-'] : manifestFiles(target, opts.recursive, opts.confined?.dir, issues);
    for (const file of files) {
      let text: string;
      try {
        text = file === '-' ? (opts.stdinText ?? '') : readText(file, opts.confined);
      } catch (err) {
        if (!(err instanceof ConfinementError)) throw err;
        issues.push({ location: file, path: '', message: err.reason });
        continue;
      }
      const cache = file === '-' ? undefined : opts.cache;
      let parsed = cache?.get(file, text);
      if (!parsed) {
        try {
          parsed = parseManifests(text, file === '-' ? '<stdin>' : file);
        } catch (err) {
          const e = err as { issues?: FieldIssue[]; message: string };
          if (e.issues?.length) issues.push(...e.issues);
          else issues.push({ location: file, path: '', message: e.message });
          continue;
        }
        cache?.set(file, text, parsed);
      }
      for (const p of parsed) {
        const id = `${p.manifest.kind}/${p.manifest.metadata.name}`;
        const where = `${p.file}:${p.line}`;
        const first = seen.get(id);
        if (first) {
          issues.push({ location: where, path: 'metadata.name', message: `${id} is also defined at ${first}` });
          continue;
        }
        seen.set(id, where);
        if (opts.confined) {
          const problem = localImageProblem(p.manifest, opts.confined.dir);
          if (problem) {
            issues.push({ location: where, path: 'spec.image', message: problem });
            continue;
          }
        }
        try {
          loaded.push({ ...p, manifest: resolveValueFrom(p.manifest, file === '-' ? process.cwd() : path.dirname(file), opts.env, opts.confined) });
        } catch (err) {
          issues.push({ location: where, path: 'spec.data', message: (err as Error).message });
        }
      }
    }
  }
  if (issues.length > 0) {
    const first = issues[0]!;
    throw invalid(`${issues.length} problem${issues.length > 1 ? 's' : ''} in the manifests; first: ${first.location ? `${first.location}: ` : ''}${first.path ? `${first.path}: ` : ''}${first.message}`, issues);
  }
  return loaded;
}

function readText(file: string, confined: Confinement | undefined): string {
  if (!confined) return fs.readFileSync(file, 'utf8');
  return confined.dir.readFile(file, MAX_CONFINED_FILE_BYTES).toString('utf8');
}

/**
 * Why a confined manifest's `oci:`/`docker-archive:` image may not be read: it lies or leads outside, or is
 * not a directory / regular file. Other problems (a bad or missing ref) are the pull's to report, as for the CLI.
 */
function localImageProblem(m: Manifest, dir: ConfinedDir): string | undefined {
  const image = (m.spec as { image?: unknown }).image;
  if (typeof image !== 'string' || !/^(oci|docker-archive):/.test(image)) return undefined;
  let ref: ImageRef;
  try {
    ref = parseImageRef(image);
  } catch {
    return undefined;
  }
  try {
    if (ref.kind === 'oci-layout') fs.closeSync(dir.open(ref.dir, 'directory'));
    else if (ref.kind === 'docker-archive') fs.closeSync(dir.open(ref.file));
    return undefined;
  } catch (err) {
    return err instanceof ConfinementError ? `image ${image}: ${err.message}` : undefined;
  }
}

/** A Secret's `{valueFrom: {env|file}}` values replaced by what they point at; other kinds pass unchanged. */
function resolveValueFrom(m: Manifest, baseDir: string, env: NodeJS.ProcessEnv, confined: Confinement | undefined): Manifest {
  if (m.kind !== 'Secret') return m;
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(m.spec.data as Record<string, SecretValue>)) {
    if (typeof value === 'string') {
      data[key] = value;
      continue;
    }
    const from = value.valueFrom;
    if (from.env !== undefined) {
      if (confined && !confined.env.allowed.includes(from.env)) {
        throw new Error(`secret ${m.metadata.name}: ${clipInput(key)} reads environment variable ${clipInput(from.env)}, which ${confined.env.setting} does not list; not read`);
      }
      // Own variables only: `valueFrom: {env: constructor}` must not read Object.prototype.constructor.
      const v = Object.hasOwn(env, from.env) ? env[from.env] : undefined;
      if (v === undefined) throw new Error(`secret ${m.metadata.name}: ${clipInput(key)} reads environment variable ${clipInput(from.env)}, which is not set`);
      data[key] = v;
    } else {
      const file = path.resolve(baseDir, from.file!);
      try {
        // One trailing newline (what editors add) is not part of the value.
        data[key] = readText(file, confined).replace(/\r?\n$/, '');
      } catch (err) {
        if (err instanceof ConfinementError) throw new Error(`secret ${m.metadata.name}: ${clipInput(key)} reads ${clipInput(from.file!)}: ${err.message}`);
        throw new Error(`secret ${m.metadata.name}: ${clipInput(key)} reads ${clipInput(from.file!)}, which cannot be read`);
      }
    }
  }
  return { ...m, spec: { ...m.spec, data } } as Manifest;
}
