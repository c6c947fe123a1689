// Parsed manifest files by content, so applying an unchanged directory again skips the YAML parse and schema
// check of every file: with hundreds of files they were most of a no-op `aegis apply` (and of each pass of the
// watched directory, on the daemon's event loop). A hit needs the same path and the same bytes; the daemon
// validates everything it is sent anyway. Files with a Secret are never kept: no secret value is copied.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ParsedManifest } from '../resources/manifest.js';

export interface ParseCache {
  get(file: string, text: string): ParsedManifest[] | undefined;
  set(file: string, text: string, parsed: ParsedManifest[]): void;
}

const keyOf = (file: string, text: string): string => crypto.createHash('sha256').update(file).update('\0').update(text).digest('base64url');

/** In one process (the watched directory): keeps what the last pass used, so removed files are forgotten. */
export class MemoryParseCache implements ParseCache {
  protected entries = new Map<string, ParsedManifest[]>();
  protected used = new Map<string, ParsedManifest[]>();

  get(file: string, text: string): ParsedManifest[] | undefined {
    const key = keyOf(file, text);
    const hit = this.entries.get(key);
    if (hit) this.used.set(key, hit);
    return hit;
  }

  set(file: string, text: string, parsed: ParsedManifest[]): void {
    if (parsed.some((p) => p.manifest.kind === 'Secret')) return;
    const key = keyOf(file, text);
    this.entries.set(key, parsed);
    this.used.set(key, parsed);
  }

  /** Forgets what the pass since the last call did not use. */
  retainUsed(): void {
    this.entries = this.used;
    this.used = new Map();
  }
}

/** Entries a cache file keeps at most: the last run's first, then older ones. */
const MAX_FILE_ENTRIES = 5_000;

/**
 * Across CLI runs, in a file of the user's AEGIS_HOME (mode 0600). Stamped with the build that wrote it: another
 * build (other schemas, other defaults) starts afresh. Unreadable or unwritable: it simply does not help.
 */
export class FileParseCache extends MemoryParseCache {
  /** What the file held when loaded: a run that added nothing does not write it again. */
  private loaded = new Set<string>();

  private constructor(
    private readonly file: string,
    private readonly stamp: string,
  ) {
    super();
  }

  static load(file: string): FileParseCache {
    const cache = new FileParseCache(file, buildStamp());
    try {
      const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { stamp?: string; entries?: [string, ParsedManifest[]][] };
      if (saved.stamp === cache.stamp && Array.isArray(saved.entries)) cache.entries = new Map(saved.entries);
    } catch {
      /* no cache yet, or an unreadable one: start empty */
    }
    cache.loaded = new Set(cache.entries.keys());
    return cache;
  }

  /** Writes the entries used this run (and older ones, up to the cap) when this run added any. */
  save(): void {
    const added = [...this.used.keys()].some((k) => !this.loaded.has(k));
    if (!added) return;
    const entries = new Map(this.used);
    for (const [k, v] of this.entries) {
      if (entries.size >= MAX_FILE_ENTRIES) break;
      if (!entries.has(k)) entries.set(k, v);
    }
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      fs.writeFileSync(tmp, JSON.stringify({ stamp: this.stamp, entries: [...entries] }), { mode: 0o600 });
      fs.renameSync(tmp, this.file);
    } catch {
      fs.rmSync(tmp, { force: true });
    }
  }
}

/** This build of the code that parses: the module file's size and time (a rebuild or an upgrade changes them). */
function buildStamp(): string {
  try {
    const st = fs.statSync(fileURLToPath(import.meta.url));
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return String(Math.random()); // cannot tell the build: never trust an old file
  }
}
