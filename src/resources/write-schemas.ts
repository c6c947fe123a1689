// `npm run schemas`: writes schemas/<kind>.json (and manifest.json for mixed files) from the zod schemas.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { anyManifestJsonSchema, manifestJsonSchema, schemaFileName } from './json-schema.js';
import { KINDS } from './kinds.js';

const render = (schema: unknown) => `${JSON.stringify(schema, null, 2)}\n`;

/** File name → exact file content, so a test can compare the committed files with what the code generates. */
export function renderSchemas(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kind of KINDS) out[schemaFileName(kind)] = render(manifestJsonSchema(kind));
  out['manifest.json'] = render(anyManifestJsonSchema());
  return out;
}

/** Writes every schema file into `dir` and returns the paths written. */
export function writeSchemas(dir: string): string[] {
  fs.mkdirSync(dir, { recursive: true });
  return Object.entries(renderSchemas()).map(([name, content]) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
  });
}

function invokedDirectly(): boolean {
  try {
    return process.argv[1] !== undefined && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href;
  } catch {
    return false; // argv[1] is not a file (e.g. node -e): we were imported, not run
  }
}

if (invokedDirectly()) {
  const dir = process.argv[2] ?? 'schemas';
  for (const file of writeSchemas(dir)) process.stdout.write(`wrote ${file}\n`);
}
