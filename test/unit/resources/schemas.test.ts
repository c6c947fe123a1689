// The committed JSON Schemas in schemas/ must equal what the zod schemas generate (run `npm run schemas` after a change).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { manifestJsonSchema } from '../../../src/resources/json-schema.js';
import { KINDS } from '../../../src/resources/kinds.js';
import { renderSchemas } from '../../../src/resources/write-schemas.js';

const SCHEMAS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../schemas');

describe('JSON Schemas', () => {
  const rendered = renderSchemas();

  it('has one file per kind plus manifest.json', () => {
    expect(Object.keys(rendered).sort()).toEqual([...KINDS.map((k) => `${k.toLowerCase()}.json`), 'manifest.json'].sort());
  });

  it.each(Object.keys(renderSchemas()))('schemas/%s is up to date (regenerate with `npm run schemas`)', (file) => {
    const committed = fs.readFileSync(path.join(SCHEMAS_DIR, file), 'utf8');
    expect(committed).toBe(rendered[file]);
  });

  it('is pretty-printed with a trailing newline and sorted keys', () => {
    for (const content of Object.values(rendered)) {
      expect(content.endsWith('}\n')).toBe(true);
      expect(content).toBe(`${JSON.stringify(JSON.parse(content), null, 2)}\n`);
    }
    const top = Object.keys(JSON.parse(rendered['app.json']) as object);
    expect(top).toEqual([...top].sort());
  });

  it('describes the manifest strictly, with field descriptions and the input-side defaults', () => {
    const app = manifestJsonSchema('App') as Record<string, any>;
    expect(app.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(app.additionalProperties).toBe(false);
    expect(app.required).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);
    expect(app.properties.kind.const).toBe('App');
    const spec = app.properties.spec;
    expect(spec.additionalProperties).toBe(false);
    // io: 'input' — defaulted fields are optional for the author.
    expect(spec.required ?? []).not.toContain('serve');
    expect(spec.properties.expose.items).toMatchObject({ type: 'integer', minimum: 1, maximum: 65535 });
    expect(spec.properties.resources.properties.memoryMiB).toMatchObject({ default: 512, minimum: 16, maximum: 65536 });
    expect(typeof spec.properties.image.description).toBe('string');
    expect(app.properties.metadata.properties.name.pattern).toBe('^[a-z]([-a-z0-9]*[a-z0-9])?$');
  });
});
