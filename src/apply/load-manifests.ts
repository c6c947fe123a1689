// Reads manifest files for apply, diff, delete -f and the watched directory: files and directories (YAML
// or JSON, multi-document), every document validated before anything is returned, and `valueFrom` secret
// references resolved here, on the reading side, so plaintext never has to live in the files.
import fs from 'node:fs';
import path from 'node:path';
import { invalid, type FieldIssue } from '../errors/codes.js';
import type { Manifest } from '../resources/envelope.js';
import { parseManifests, type ParsedManifest } from '../resources/manifest.js';
import type { SecretValue } from '../resources/secret.js';

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
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;

/** The manifest files a path names: the file itself, or the directory's *.yaml|*.yml|*.json (sorted). */
export function manifestFiles(target: string, recursive: boolean): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch {
    throw invalid(`cannot read ${target}: no such file or directory`);
  }
  if (!st.isDirectory()) return [target];
  const out: string[] = [];
  for (const entry of fs.readdirSync(target, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(target, entry.name);
    if (entry.isDirectory()) {
      if (recursive) out.push(...manifestFiles(full, true));
    } else if (MANIFEST_FILE.test(entry.name)) out.push(full);
  }
  return out;
}

/** Every object of every file, or one AEGIS_INVALID listing every problem (with file:line:col) of all of them. */
export function loadManifests(targets: string[], opts: LoadOptions): LoadedManifest[] {
  const issues: FieldIssue[] = [];
  const loaded: LoadedManifest[] = [];
  const seen = new Map<string, string>();
  for (const target of targets) {
    const files = target === '-' ? ['-'] : manifestFiles(target, opts.recursive);
    for (const file of files) {
      const text = file === '-' ? (opts.stdinText ?? '') : fs.readFileSync(file, 'utf8');
      let parsed: ParsedManifest[];
      try {
        parsed = parseManifests(text, file === '-' ? '<stdin>' : file);
      } catch (err) {
        const e = err as { issues?: FieldIssue[]; message: string };
        if (e.issues?.length) issues.push(...e.issues);
        else issues.push({ location: file, path: '', message: e.message });
        continue;
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
        try {
          loaded.push({ ...p, manifest: resolveValueFrom(p.manifest, file === '-' ? process.cwd() : path.dirname(file), opts.env) });
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

/** A Secret's `{valueFrom: {env|file}}` values replaced by what they point at; other kinds pass unchanged. */
function resolveValueFrom(m: Manifest, baseDir: string, env: NodeJS.ProcessEnv): Manifest {
  if (m.kind !== 'Secret') return m;
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(m.spec.data as Record<string, SecretValue>)) {
    if (typeof value === 'string') {
      data[key] = value;
      continue;
    }
    const from = value.valueFrom;
    if (from.env !== undefined) {
      const v = env[from.env];
      if (v === undefined) throw new Error(`secret ${m.metadata.name}: ${key} reads environment variable ${from.env}, which is not set`);
      data[key] = v;
    } else {
      const file = path.resolve(baseDir, from.file!);
      try {
        // One trailing newline (what editors add) is not part of the value.
        data[key] = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      } catch {
        throw new Error(`secret ${m.metadata.name}: ${key} reads ${from.file}, which cannot be read`);
      }
    }
  }
  return { ...m, spec: { ...m.spec, data } } as Manifest;
}
