// The -f/-R inputs of apply, diff and delete: manifests loaded and validated on this side (valueFrom read
// from this process's environment and files), and the apply source that owns them for prune.
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { LoadedManifest } from '../../apply/load-manifests.js';
import { AegisApiError } from '../../sdk/errors.js';
import { readStdin } from './read-stdin.js';
import { isAegisError } from '../../errors/codes.js';

// Loaded on use: the manifest schemas (zod) and the YAML parser would slow every other command's start.
const loader = () => import('../../apply/load-manifests.js');

/** `cacheFile`: where files parsed before are kept between runs (AegisPaths.manifestCache); none when absent. */
export async function readInputs(files: string[], recursive: boolean, stdin: Readable, cacheFile?: string): Promise<LoadedManifest[]> {
  let stdinText: string | undefined;
  if (files.includes('-')) stdinText = await readStdin(stdin);
  try {
    const [{ loadManifests }, { FileParseCache }] = await Promise.all([loader(), import('../../apply/parse-cache.js')]);
    const cache = cacheFile ? FileParseCache.load(cacheFile) : undefined;
    const loaded = loadManifests(files.map((f) => (f === '-' ? f : path.resolve(f))), { recursive, env: process.env, cache, ...(stdinText !== undefined ? { stdinText } : {}) });
    cache?.save();
    return loaded;
  } catch (err) {
    // Shown like a daemon validation error: one line, then each problem with its file:line:col.
    if (isAegisError(err)) throw new AegisApiError(400, err.code, err.message, err.issues);
    throw err;
  }
}

/** Who owns what this apply writes: the absolute paths given, so the same -f set prunes only its own objects. */
export const applySource = (files: string[]) => `file:${files.map((f) => (f === '-' ? 'stdin' : path.resolve(f))).join('+')}`;

export const objectId = (kind: string, name: string) => `${kind.toLowerCase()}/${name}`;
