// Unit tests for manifest.ts: multi-document YAML, JSON (object, array, List), syntax errors and flat kits, each problem at file:line:col.
import { describe, expect, it } from 'vitest';
import { invalidFrom } from '../../support/invalid-from.js';
import { formatIssues } from '../../../src/resources/issues.js';
import { kitFromFlatYaml } from '../../../src/resources/kit.js';
import { parseManifests, validateManifest } from '../../../src/resources/manifest.js';


/** Source text from lines, so the line numbers the tests expect can be read off the array index (+1). */
const lines = (...ls: string[]) => `${ls.join('\n')}\n`;

const MULTI = lines(
  /*  1 */ 'apiVersion: aegis.dev/v1',
  /*  2 */ 'kind: App',
  /*  3 */ 'metadata:',
  /*  4 */ '  name: web',
  /*  5 */ 'spec:',
  /*  6 */ '  image: python:3.12-alpine',
  /*  7 */ '  command: [python, -m, http.server, "80"]',
  /*  8 */ '  expose: [80, "8080"]',
  /*  9 */ '  colour: blue',
  /* 10 */ '---',
  /* 11 */ '# only a comment: an empty document, skipped',
  /* 12 */ '---',
  /* 13 */ 'apiVersion: aegis.dev/v1',
  /* 14 */ 'kind: Secret',
  /* 15 */ 'metadata: {name: keys}',
  /* 16 */ 'spec:',
  /* 17 */ '  data:',
  /* 18 */ '    API_KEY: {valueFrom: {env: API_KEY}}',
  /* 19 */ '---',
  /* 20 */ 'apiVersion: aegis.dev/v1',
  /* 21 */ 'kind: Task',
  /* 22 */ 'metadata:',
  /* 23 */ '  name: Job_1',
  /* 24 */ '  labels: {team: a}',
  /* 25 */ 'spec:',
  /* 26 */ '  env:',
  /* 27 */ '    __proto__: x',
  /* 28 */ '  ttlSeconds: soon',
);

describe('parseManifests: YAML', () => {
  it('reports every problem of every document with its exact file:line:col, and nothing else', () => {
    const e = invalidFrom(() => parseManifests(MULTI, 'deploy/web.yaml'));
    expect(e.issues).toEqual([
      { location: 'deploy/web.yaml:8:16', path: 'spec.expose.1', message: 'Invalid input: expected number, received string' },
      { location: 'deploy/web.yaml:9:3', path: 'spec.colour', message: 'unknown field "colour"' },
      { location: 'deploy/web.yaml:23:9', path: 'metadata.name', message: 'must start with a lowercase letter' },
      // A missing required field points at its parent's key.
      { location: 'deploy/web.yaml:25:1', path: 'spec.command', message: 'required field "command" is missing' },
      { location: 'deploy/web.yaml:27:5', path: 'spec.env.__proto__', message: 'key "__proto__" is not allowed' },
      { location: 'deploy/web.yaml:28:15', path: 'spec.ttlSeconds', message: 'Invalid input: expected number, received string' },
    ]);
    expect(e.message).toBe(
      '6 problems in deploy/web.yaml; first: deploy/web.yaml:8:16: spec.expose.1: Invalid input: expected number, received string',
    );
    expect(formatIssues(e).split('\n')).toEqual([
      'deploy/web.yaml:8:16: spec.expose.1: Invalid input: expected number, received string',
      'deploy/web.yaml:9:3: spec.colour: unknown field "colour"',
      'deploy/web.yaml:23:9: metadata.name: must start with a lowercase letter',
      'deploy/web.yaml:25:1: spec.command: required field "command" is missing',
      'deploy/web.yaml:27:5: spec.env.__proto__: key "__proto__" is not allowed',
      'deploy/web.yaml:28:15: spec.ttlSeconds: Invalid input: expected number, received string',
    ]);
  });

  it('returns every manifest with its line and index, defaults filled, when all are valid', () => {
    const text = lines(
      /* 1 */ '# yaml-language-server: $schema=../schemas/manifest.json',
      /* 2 */ 'apiVersion: aegis.dev/v1',
      /* 3 */ 'kind: App',
      /* 4 */ 'metadata: {name: web, labels: {team: a, app.kubernetes.io/part-of: demo}}',
      /* 5 */ 'spec: {image: "python:3.12-alpine", command: [python], expose: [80]}',
      /* 6 */ '---',
      /* 7 */ '---',
      /* 8 */ 'apiVersion: aegis.dev/v1',
      /* 9 */ 'kind: Release',
      /* 10 */ 'metadata: {name: web-v1}',
      /* 11 */ 'spec: {app: web, label: v1, image: "python:3.12-alpine"}',
    );
    const out = parseManifests(text, 'web.yaml');
    expect(out.map((m) => [m.manifest.kind, m.manifest.metadata.name, m.file, m.line, m.index])).toEqual([
      ['App', 'web', 'web.yaml', 2, 0],
      ['Release', 'web-v1', 'web.yaml', 8, 1],
    ]);
    expect(out[0].manifest.spec).toEqual({ image: 'python:3.12-alpine', command: ['python'], expose: [80], env: {}, serve: false });
    expect(out[0].manifest.metadata.labels).toEqual({ team: 'a', 'app.kubernetes.io/part-of': 'demo' });
  });

  it('returns nothing for an empty file', () => {
    expect(parseManifests('', 'empty.yaml')).toEqual([]);
    expect(parseManifests('# nothing\n---\n', 'empty.yaml')).toEqual([]);
  });

  it('reports envelope problems: apiVersion, kind, missing spec, unknown metadata, bad labels', () => {
    const text = lines(
      /* 1 */ 'apiVersion: aegis.dev/v2',
      /* 2 */ 'kind: Widget',
      /* 3 */ 'metadata: {name: w, uid: x}',
      /* 4 */ '---',
      /* 5 */ 'apiVersion: aegis.dev/v1',
      /* 6 */ 'kind: Kit',
      /* 7 */ 'metadata:',
      /* 8 */ '  name: k',
      /* 9 */ '  labels: {"-bad": "x", ok: 7}',
    );
    const e = invalidFrom(() => parseManifests(text, 'x.yaml'));
    expect(e.issues.map((i) => [i.location, i.path])).toEqual([
      // Missing at the top level: the document's first line.
      ['x.yaml:1:1', 'spec'],
      ['x.yaml:1:13', 'apiVersion'],
      ['x.yaml:2:7', 'kind'],
      ['x.yaml:3:21', 'metadata.uid'],
      ['x.yaml:5:1', 'spec'],
      ['x.yaml:9:12', 'metadata.labels.-bad'],
      ['x.yaml:9:29', 'metadata.labels.ok'],
    ]);
    expect(e.issues[2].message).toBe('unknown kind "Widget": expected one of Secret, Kit, App, Release, Instance, Task');
    expect(e.issues[3].message).toBe('unknown field "uid"');
    expect(e.issues[4].message).toBe('required field "spec" is missing');
    expect(e.issues[6].message).toMatch(/label values must be strings/);
  });

  it('reports a non-JSON number once, at its node', () => {
    const text = lines('apiVersion: aegis.dev/v1', 'kind: Task', 'metadata: {name: t}', 'spec: {command: [x], ttlSeconds: .inf}');
    expect(invalidFrom(() => parseManifests(text, 't.yaml')).issues).toEqual([
      { location: 't.yaml:4:34', path: 'spec.ttlSeconds', message: 'Infinity is not a JSON number' },
    ]);
  });

  it('stops an alias bomb', () => {
    const text = lines('a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]');
    const e = invalidFrom(() => parseManifests(text, 'bomb.yaml'));
    expect(e.issues).toEqual([{ location: 'bomb.yaml:1:1', path: '', message: expect.stringMatching(/^invalid YAML: .*alias/i) }]);
  });

  it('refuses the same object twice in one file', () => {
    const doc = (image: string) => `apiVersion: aegis.dev/v1\nkind: Kit\nmetadata: {name: k}\nspec: {version: "1", image: ${image}}\n`;
    const e = invalidFrom(() => parseManifests(`${doc('a')}---\n${doc('b')}`, 'k.yaml'));
    expect(e.issues).toEqual([{ location: 'k.yaml:8:18', path: 'metadata.name', message: 'Kit "k" is already defined at line 1' }]);
  });

  it.each([
    ['an unclosed flow sequence', lines('apiVersion: aegis.dev/v1', 'spec: {expose: [80', 'kind: App'), 'bad.yaml:3:1'],
    ['a duplicate key', lines('apiVersion: aegis.dev/v1', 'kind: App', 'kind: Task'), 'bad.yaml:3:1'],
    ['a tab used for indentation', lines('spec:', '\timage: x'), 'bad.yaml:2:1'],
  ])('locates YAML syntax errors: %s', (_d, text, location) => {
    const e = invalidFrom(() => parseManifests(text, 'bad.yaml'));
    expect(e.issues.length).toBeGreaterThan(0);
    expect(e.issues[0].location).toBe(location);
    expect(e.issues[0].message).toMatch(/^invalid YAML: /);
  });

  it('validates the other documents of a file in which one has a syntax error', () => {
    const text = lines(
      /* 1 */ 'apiVersion: aegis.dev/v1',
      /* 2 */ 'kind: App',
      /* 3 */ 'kind: App',
      /* 4 */ '---',
      /* 5 */ 'apiVersion: aegis.dev/v1',
      /* 6 */ 'kind: Task',
      /* 7 */ 'metadata: {name: t}',
      /* 8 */ 'spec: {command: [x], bogus: 1}',
    );
    const e = invalidFrom(() => parseManifests(text, 'm.yaml'));
    expect(e.issues.map((i) => [i.location, i.path])).toEqual([
      ['m.yaml:3:1', ''],
      ['m.yaml:8:22', 'spec.bogus'],
    ]);
  });
});

describe('parseManifests: JSON', () => {
  const app = { apiVersion: 'aegis.dev/v1', kind: 'App', metadata: { name: 'web' }, spec: { image: 'a', command: ['x'] } };

  it('accepts a single object', () => {
    const out = parseManifests(JSON.stringify(app), 'web.json');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ file: 'web.json', line: 1, index: 0, manifest: { kind: 'App', metadata: { name: 'web' } } });
  });

  it('accepts an array, and a JSON file without the .json extension', () => {
    const task = { apiVersion: 'aegis.dev/v1', kind: 'Task', metadata: { name: 't' }, spec: { command: ['true'] } };
    const out = parseManifests(JSON.stringify([app, task], null, 2), 'stdin');
    expect(out.map((m) => [m.manifest.kind, m.index])).toEqual([
      ['App', 0],
      ['Task', 1],
    ]);
    expect(out[1].line).toBe(15);
  });

  it('accepts a List and locates problems inside its items exactly', () => {
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [app, { ...app, metadata: { name: 'api' }, spec: { image: 'a', command: ['x'], expose: [80, 'http'], extra: true } }],
    };
    const text = JSON.stringify(list, null, 2);
    const valid = { ...list, items: [app, { ...app, metadata: { name: 'api' } }] };
    expect(parseManifests(JSON.stringify(valid, null, 2), 'l.json').map((m) => [m.manifest.metadata.name, m.line, m.index])).toEqual([
      ['web', 5, 0],
      ['api', 18, 1],
    ]);
    const e = invalidFrom(() => parseManifests(text, 'list.json'));
    // In the pretty-printed text the second item's "http" is on line 31 and "extra" on line 33.
    expect(text.split('\n')[30]).toBe('          "http"');
    expect(text.split('\n')[32]).toBe('        "extra": true');
    expect(e.issues).toEqual([
      { location: 'list.json:31:11', path: 'spec.expose.1', message: 'Invalid input: expected number, received string' },
      { location: 'list.json:33:9', path: 'spec.extra', message: 'unknown field "extra"' },
    ]);
  });

  it('rejects unknown fields of the List itself', () => {
    const e = invalidFrom(() => parseManifests('{"kind": "List", "items": [], "extra": 1}', 'l.json'));
    expect(e.issues).toEqual([{ location: 'l.json:1:31', path: 'extra', message: 'unknown field "extra"' }]);
  });

  it.each([
    ['a missing value', '{\n  "kind": "App",\n  "spec": }', 'x.json:3:11', 'invalid JSON: unexpected character "}"'],
    ['an unterminated array', '[\n  {"kind": "App"}', 'x.json:2:18', 'invalid JSON: expected "," or "]" but found end of input'],
    ['trailing text', '{"a": 1}\n{"b": 2}', 'x.json:2:1', 'invalid JSON: unexpected character "{" after the JSON value'],
    ['a duplicate key', '{"kind": "App",\n "kind": "Task"}', 'x.json:2:2', 'invalid JSON: duplicate key "kind"'],
    ['an empty file', '', 'x.json:1:1', 'invalid JSON: unexpected end of input'],
  ])('locates JSON syntax errors: %s', (_d, text, location, message) => {
    const e = invalidFrom(() => parseManifests(text, 'x.json'));
    expect(e.issues).toEqual([{ location, path: '', message }]);
  });

  it('rejects __proto__ in JSON at its key', () => {
    const text = '{"apiVersion": "aegis.dev/v1", "kind": "Task", "metadata": {"name": "t"},\n "spec": {"command": ["x"], "__proto__": {"a": 1}}}';
    const e = invalidFrom(() => parseManifests(text, 'p.json'));
    expect(e.issues).toEqual([{ location: 'p.json:2:29', path: 'spec.__proto__', message: 'key "__proto__" is not allowed' }]);
  });
});

describe('flat kit YAML (the seed format)', () => {
  const FLAT = lines('name: famiglia', 'version: "1.0.0"', 'description: Famiglia agent kit', 'image: ghcr.io/aegis/famiglia:1.0.0');

  it('is read by parseManifests as a Kit', () => {
    expect(parseManifests(FLAT, 'famiglia.yaml')).toEqual([
      {
        file: 'famiglia.yaml',
        line: 1,
        index: 0,
        manifest: {
          apiVersion: 'aegis.dev/v1',
          kind: 'Kit',
          metadata: { name: 'famiglia' },
          spec: { version: '1.0.0', description: 'Famiglia agent kit', image: 'ghcr.io/aegis/famiglia:1.0.0' },
        },
      },
    ]);
  });

  it('without image fails clearly, at the document', () => {
    const e = invalidFrom(() => parseManifests(lines('name: famiglia', 'version: "1.0.0"'), 'famiglia.yaml'));
    expect(e.issues).toEqual([{ location: 'famiglia.yaml:1:1', path: 'image', message: 'required field "image" is missing' }]);
    expect(e.message).toBe('1 problem in famiglia.yaml: famiglia.yaml:1:1: image: required field "image" is missing');
  });

  it('kitFromFlatYaml builds a full manifest, config included', () => {
    const kit = kitFromFlatYaml({ name: 'claw', version: '0.9.2', image: 'ghcr.io/aegis/openclaw:0.9.2', config: { port: 8080, secrets: { required: ['TOKEN'] } } });
    expect(kit).toEqual({
      apiVersion: 'aegis.dev/v1',
      kind: 'Kit',
      metadata: { name: 'claw' },
      spec: { version: '0.9.2', image: 'ghcr.io/aegis/openclaw:0.9.2', config: { port: 8080, secrets: { required: ['TOKEN'], optional: [] } } },
    });
  });

  it.each([
    ['no image', { name: 'k', version: '1' }, [['image', 'required field "image" is missing']]],
    ['an unknown field', { name: 'k', version: '1', image: 'x', author: 'me' }, [['author', 'unknown field "author"']]],
    ['a numeric version', { name: 'k', version: 1, image: 'x' }, [['version', expect.stringMatching(/quote versions/)]]],
    ['not a mapping', ['name'], [['', 'a kit manifest must be a mapping with name, version and image']]],
  ])('kitFromFlatYaml rejects %s', (_d, obj, want) => {
    const e = invalidFrom(() => kitFromFlatYaml(obj));
    expect(e.issues.map((i) => [i.path, i.message])).toEqual(want);
    expect(e.message).toMatch(/^invalid kit manifest: /);
  });
});

describe('validateManifest (bodies that did not come from a file)', () => {
  it('returns the parsed manifest or throws with field paths', () => {
    expect(validateManifest({ apiVersion: 'aegis.dev/v1', kind: 'Secret', metadata: { name: 's' }, spec: { data: {} } }).kind).toBe('Secret');
    const e = invalidFrom(() => validateManifest({ apiVersion: 'aegis.dev/v1', kind: 'Secret', metadata: { name: 's' }, spec: { data: { K: 1 } } }));
    expect(e.issues.map((i) => i.path)).toEqual(['spec.data.K']);
    expect(e.issues[0].location).toBeUndefined();
  });

  it('rejects a non-object', () => {
    expect(invalidFrom(() => validateManifest('App')).issues).toEqual([
      { path: '', message: 'a manifest must be a mapping with apiVersion, kind, metadata and spec' },
    ]);
  });
});
