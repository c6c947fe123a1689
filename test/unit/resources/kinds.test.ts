// Unit tests for the kinds registry and every kind's spec/status schema: good specs, unknown fields, cross-field rules, __proto__.
import { describe, expect, it } from 'vitest';
import { invalidFrom } from '../../support/invalid-from.js';
import { KINDS, kindInfo, parseKind, validateSpec, validateStatus, type Kind } from '../../../src/resources/kinds.js';
import { resolveResources } from '../../../src/resources/machine-resources.js';


const issuesOf = (fn: () => unknown) => invalidFrom(fn).issues.map((i) => [i.path, i.message]);

const goodSpecs: Record<Kind, Record<string, unknown>> = {
  Secret: { app: 'web', data: { API_KEY: 'sk-1', DB_URL: { valueFrom: { env: 'DB_URL' } }, CERT: { valueFrom: { file: './cert.pem' } } } },
  Kit: {
    version: '1.0.0',
    description: 'Famiglia agent kit',
    image: 'ghcr.io/aegis/famiglia:1.0.0',
    config: { secrets: { required: ['OPENAI_API_KEY'] }, port: 8080, resources: { memoryMiB: 1024 } },
  },
  App: {
    image: 'python:3.12-alpine',
    command: ['python', '-m', 'http.server', '80'],
    expose: [80, 443],
    env: { MODE: 'prod' },
    secrets: ['API_KEY'],
    resources: { memoryMiB: 256, vcpus: 2 },
    idle: { pauseAfter: '60s', stopAfter: '5m' },
    release: 'v1',
    serve: true,
  },
  Release: { app: 'web', label: 'v1', image: 'python:3.12-alpine' },
  Instance: { image: 'alpine:3.21', command: ['nginx'], expose: [80, 443] },
  Task: { image: 'alpine:3.21', command: ['echo', 'hello'], env: { A: 'b' }, app: 'web', ttlSeconds: 60 },
};

describe('kinds registry', () => {
  it('lists kinds in dependency order with their plural, singular and id prefix', () => {
    expect(KINDS).toEqual(['Secret', 'Kit', 'App', 'Release', 'Instance', 'Task']);
    expect(KINDS.map((k) => [kindInfo[k].kind, kindInfo[k].plural, kindInfo[k].singular, kindInfo[k].idPrefix])).toEqual([
      ['Secret', 'secrets', 'secret', 'sec-'],
      ['Kit', 'kits', 'kit', 'kit-'],
      ['App', 'apps', 'app', 'app-'],
      ['Release', 'releases', 'release', 'rel-'],
      ['Instance', 'instances', 'instance', 'inst-'],
      ['Task', 'tasks', 'task', 'task-'],
    ]);
  });

  it.each([
    ['app', 'App'],
    ['apps', 'App'],
    ['App', 'App'],
    ['APPS', 'App'],
    ['release', 'Release'],
    ['instances', 'Instance'],
    ['secret', 'Secret'],
    ['kits', 'Kit'],
    ['Task', 'Task'],
  ])('parseKind(%j) = %s', (s, kind) => expect(parseKind(s)).toBe(kind));

  it.each(['widget', '', 'ap', 'application'])('parseKind(%j) fails naming the known kinds on one line', (s) => {
    const e = invalidFrom(() => parseKind(s));
    expect(e.message).toBe(
      `unknown kind ${JSON.stringify(s)}: expected one of Secret, Kit, App, Release, Instance, Task (or their lowercase singular or plural)`,
    );
  });
});

describe.each(KINDS)('%s spec', (kind) => {
  it('accepts a good spec', () => {
    expect(() => validateSpec(kind, goodSpecs[kind])).not.toThrow();
  });

  it('rejects an unknown top-level field with its path', () => {
    expect(issuesOf(() => validateSpec(kind, { ...goodSpecs[kind], colour: 'blue' }))).toEqual([['spec.colour', 'unknown field "colour"']]);
  });

  it('rejects a __proto__ key with its path, and leaves Object.prototype alone', () => {
    const spec = JSON.parse(`{"__proto__": {"polluted": true}, ${JSON.stringify(goodSpecs[kind]).slice(1)}`);
    expect(issuesOf(() => validateSpec(kind, spec))).toEqual([['spec.__proto__', 'key "__proto__" is not allowed']]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('accepts an empty status and fills conditions', () => {
    const status = validateStatus(kind, {}) as { conditions: unknown[] };
    expect(status.conditions).toEqual([]);
  });

  it('rejects an unknown status field with its path', () => {
    expect(issuesOf(() => validateStatus(kind, { conditions: [], colour: 1 }))).toEqual([['status.colour', 'unknown field "colour"']]);
  });
});

describe('App spec', () => {
  it('fills defaults', () => {
    expect(validateSpec('App', { image: 'a', command: ['x'], resources: {} })).toEqual({
      image: 'a',
      command: ['x'],
      env: {},
      serve: false,
      resources: { memoryMiB: 512, vcpus: 1 },
    });
  });

  it('reports every problem at once, with field paths', () => {
    const e = invalidFrom(() =>
      validateSpec('App', {
        image: 'a',
        command: ['x'],
        expose: [80, '81', 70000, 80],
        env: { '1BAD': 'x', OK: 5 },
        resources: { memoryMiB: 8, vcpus: 65, disk: 1 },
        idle: { pauseAfter: '5 minutes' },
        secrets: ['*', 'API_KEY'],
        kit: 'My_Kit',
      }),
    );
    expect(e.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining([
        'spec.expose.1',
        'spec.expose.2',
        'spec.expose.3',
        'spec.env.1BAD',
        'spec.env.OK',
        'spec.resources.memoryMiB',
        'spec.resources.vcpus',
        'spec.resources.disk',
        'spec.idle.pauseAfter',
        'spec.secrets.0',
        'spec.kit',
      ]),
    );
    expect(e.message).toMatch(/^invalid app spec: spec\.\S+: .* \(and \d+ more problems\)$/);
    expect(e.issues.find((i) => i.path === 'spec.expose.3')?.message).toBe('port 80 is listed more than once');
    expect(e.issues.find((i) => i.path === 'spec.env.OK')?.message).toMatch(/must be strings/);
  });

  it.each([
    ['neither image nor kit', { command: ['x'] }, [['spec.image', 'an app needs an image, or a kit that provides one']]],
    ['no command and no kit', { image: 'a' }, [['spec.command', 'an app without a kit needs a command (the image CMD is ignored)']]],
    ['empty command', { image: 'a', command: [] }, [['spec.command', 'command must have at least the program to run']]],
  ])('requires %s', (_d, spec, want) => {
    expect(issuesOf(() => validateSpec('App', spec))).toEqual(want);
  });

  it('lets a kit stand in for image and command', () => {
    expect(validateSpec('App', { kit: 'famiglia' })).toMatchObject({ kit: 'famiglia' });
  });

  it('accepts the secrets allow-list forms', () => {
    for (const secrets of [[], ['*'], ['A', 'B_2']]) expect(validateSpec('App', { image: 'a', command: ['x'], secrets }).secrets).toEqual(secrets);
  });
});

describe('Secret spec', () => {
  it.each([
    ['both env and file', { env: 'X', file: 'y' }, 'spec.data.K.valueFrom', 'valueFrom needs exactly one of env or file'],
    ['neither', {}, 'spec.data.K.valueFrom', 'valueFrom needs exactly one of env or file'],
    ['an unknown source', { vault: 'x' }, 'spec.data.K.valueFrom.vault', 'unknown field "vault"'],
  ])('rejects valueFrom with %s', (_d, valueFrom, path, message) => {
    expect(issuesOf(() => validateSpec('Secret', { data: { K: { valueFrom } } }))).toContainEqual([path, message]);
  });

  it('rejects a value that is neither a string nor valueFrom', () => {
    expect(issuesOf(() => validateSpec('Secret', { data: { K: 5 } })).map(([p]) => p)).toEqual(['spec.data.K']);
  });

  it('is workspace-scoped without app', () => {
    expect(validateSpec('Secret', { data: { K: 'v' } })).toEqual({ data: { K: 'v' } });
  });

  it('rejects keys that are not env-var names, and reserved ones', () => {
    const issues = issuesOf(() => validateSpec('Secret', { data: { 'MY-KEY': 'v' } }));
    expect(issues).toEqual([['spec.data.MY-KEY', expect.stringMatching(/^invalid key "MY-KEY"/)]]);
    const ctor = JSON.parse('{"data": {"constructor": "v"}}');
    expect(issuesOf(() => validateSpec('Secret', ctor))).toEqual([['spec.data.constructor', 'key "constructor" is not allowed']]);
  });
});

describe('Instance spec', () => {
  it('accepts a served app', () => {
    expect(validateSpec('Instance', { app: 'web', release: 'v2' })).toMatchObject({ app: 'web', release: 'v2', env: {} });
  });

  it.each([
    ['app with its own image', { app: 'web', image: 'x' }, [['spec.image', 'image comes from the app; leave it out when app is set']]],
    ['ad-hoc without ports', { command: ['x'] }, [['spec.expose', 'an instance without app needs at least one port to expose']]],
    ['ad-hoc with empty ports', { command: ['x'], expose: [] }, [['spec.expose', 'an instance without app needs at least one port to expose']]],
    ['ad-hoc without command', { expose: [80] }, [['spec.command', 'an instance without app needs a command']]],
    ['release without app', { command: ['x'], expose: [80], release: 'v1' }, [['spec.release', 'release needs app']]],
  ])('rejects %s', (_d, spec, want) => {
    expect(issuesOf(() => validateSpec('Instance', spec))).toEqual(want);
  });

  it('validates status state and endpoints', () => {
    const status = validateStatus('Instance', { state: 'running', endpoints: [{ port: 80, hostPort: 40001, url: 'http://web.localhost:8099/' }] });
    expect(status).toMatchObject({ state: 'running', connections: 0, conditions: [] });
    expect(issuesOf(() => validateStatus('Instance', { state: 'sleeping' })).map(([p]) => p)).toEqual(['status.state']);
  });
});

describe('Task spec', () => {
  it('defaults ttlSeconds to an hour and needs a command', () => {
    expect(validateSpec('Task', { command: ['true'] })).toEqual({ command: ['true'], env: {}, ttlSeconds: 3600 });
    expect(issuesOf(() => validateSpec('Task', {}))).toEqual([['spec.command', 'required field "command" is missing']]);
  });

  it('accepts exitCode null and rejects a fractional one', () => {
    expect(validateStatus('Task', { phase: 'Running', exitCode: null })).toMatchObject({ phase: 'Running', exitCode: null });
    expect(issuesOf(() => validateStatus('Task', { exitCode: 1.5 })).map(([p]) => p)).toEqual(['status.exitCode']);
  });
});

describe('Release and Kit specs', () => {
  it('requires the release image and app', () => {
    expect(issuesOf(() => validateSpec('Release', { label: 'v1' }))).toEqual([
      ['spec.app', 'required field "app" is missing'],
      ['spec.image', 'required field "image" is missing'],
    ]);
  });

  it('explains an unquoted YAML version', () => {
    expect(issuesOf(() => validateSpec('Kit', { version: 1.0, image: 'x' }))).toEqual([['spec.version', expect.stringMatching(/quote versions/)]]);
  });

  it('validates a release status phase and digest', () => {
    expect(validateStatus('Release', { phase: 'Ready', imageDigest: `sha256:${'a'.repeat(64)}`, sequence: 3 })).toMatchObject({ sequence: 3 });
    expect(issuesOf(() => validateStatus('Release', { phase: 'Done' })).map(([p]) => p)).toEqual(['status.phase']);
  });
});

describe('status conditions', () => {
  it('rejects a malformed condition with its path', () => {
    const bad = { conditions: [{ type: 'Ready', status: 'Yes', reason: 'Up', message: '', lastTransitionTime: '2030-01-01T00:00:00Z' }] };
    expect(issuesOf(() => validateStatus('App', bad)).map(([p]) => p)).toEqual(['status.conditions.0.status']);
  });
});

describe('resolveResources', () => {
  it.each([
    ['nothing set', [], { memoryMiB: 512, vcpus: 1 }],
    ['kit only', [undefined, { memoryMiB: 2048 }], { memoryMiB: 2048, vcpus: 1 }],
    ['app wins over kit', [{ memoryMiB: 256, vcpus: 2 }, { memoryMiB: 2048, vcpus: 4 }], { memoryMiB: 256, vcpus: 2 }],
    ['field by field', [{ vcpus: 2 }, { memoryMiB: 2048 }], { memoryMiB: 2048, vcpus: 2 }],
  ] as const)('%s', (_d, layers, want) => {
    expect(resolveResources(...layers)).toEqual(want);
  });
});
