// Reading a kit manifest file for `aegis kit install`: the text, its one YAML document, and file:line:col for the daemon's issues.
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KitSpec } from '../../resources/kit.js';
import { lineColumns, yamlLocator, type SourceLocator } from '../../resources/source-locator.js';
import type { StoredResource } from '../../store/stored-resource.js';
import { CliError } from '../cli-error.js';
import { AegisApiError } from '../../sdk/errors.js';
import { readStdin } from './read-stdin.js';
import { clipInput } from '../../util/quote-input.js';

/** A Kit as the daemon returns it from /v1/kits. */
export type KitResource = StoredResource<KitSpec>;

export interface KitManifestFile {
  /** The parsed document, sent to the daemon as is: validation is the daemon's job. */
  value: unknown;
  /** Adds `location: FILE:LINE:COL` to issues the daemon reported against this document. */
  locate(err: AegisApiError): AegisApiError;
}

const STDIN = '-';

/** Reads FILE (relative to the working directory) or stdin for `-`; a failure is one line naming the file and the cause. */
export async function readManifestText(file: string, stdin: NodeJS.ReadableStream): Promise<string> {
  if (file === STDIN) return readStdin(stdin);
  try {
    return fs.readFileSync(path.resolve(process.cwd(), file), 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${clipInput(file)}: ${readProblem(e as NodeJS.ErrnoException)}`);
  }
}

function readProblem(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'is a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return e.message;
  }
}

/** Parses the one YAML document of a kit manifest; syntax errors become `FILE:LINE:COL: invalid YAML: …`. */
export function parseKitManifest(text: string, file: string): KitManifestFile {
  const name = file === STDIN ? '<stdin>' : file;
  const at = lineColumns(text);
  const where = (offset: number) => {
    const { line, col } = at(offset);
    return `${name}:${line}:${col}`;
  };
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true });
  for (const doc of docs) {
    const e = doc.errors[0];
    if (e) throw new CliError(`${where(e.pos[0])}: invalid YAML: ${e.message}`);
  }
  const nonEmpty = docs.filter((d) => d.contents !== null);
  if (nonEmpty.length === 0) throw new CliError(`${name}: no kit manifest in the file (it is empty)`);
  if (nonEmpty.length > 1) throw new CliError(`${where(nonEmpty[1].range[0])}: a kit manifest file holds one document, found ${nonEmpty.length}`);
  const doc = nonEmpty[0];
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new CliError(`${where(doc.contents?.range?.[0] ?? 0)}: invalid YAML: ${(err as Error).message}`);
  }
  const locator = yamlLocator(doc);
  return { value, locate: (err) => withLocations(err, locator, where) };
}

function withLocations(err: AegisApiError, locator: SourceLocator, where: (offset: number) => string): AegisApiError {
  if (err.issues.length === 0) return err;
  const issues = err.issues.map((i) => {
    if (i.location) return i;
    const segments = i.path === '' ? [] : i.path.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    // The daemon's paths do not say whether the key or its value is at fault; unknown fields are about the key.
    const onKey = /^unknown field|^invalid key/.test(i.message);
    return { ...i, location: where(locator.offset(segments, onKey)) };
  });
  return new AegisApiError(err.status, err.code, err.message, issues);
}
