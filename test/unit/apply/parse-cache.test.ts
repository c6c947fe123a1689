// The parse cache: an unchanged file is not parsed again (across CLI runs too), a changed one is, and no
// Secret's values ever land in the cache file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadManifests } from '../../../src/apply/load-manifests.js';
import { FileParseCache, MemoryParseCache } from '../../../src/apply/parse-cache.js';

const app = (name: string, cmd: string) =>
  `apiVersion: aegis.dev/v1\nkind: App\nmetadata:\n  name: ${name}\nspec:\n  image: busybox:1.36\n  command: [sh, -c, '${cmd}']\n  expose: [80]\n`;
const secret = `apiVersion: aegis.dev/v1\nkind: Secret\nmetadata:\n  name: db\nspec:\n  data:\n    password: hunter2-literal\n`;

describe('parse cache', () => {
  let dir: string;
  let cacheFile: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-parse-cache-'));
    fs.mkdirSync(path.join(dir, 'm'));
    cacheFile = path.join(dir, 'cache', 'manifests.json');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Loads dir/m through a fresh file cache (a new CLI run), counting hits. */
  const run = () => {
    const cache = FileParseCache.load(cacheFile);
    let hits = 0;
    const get = cache.get.bind(cache);
    cache.get = (file, text) => {
      const hit = get(file, text);
      if (hit) hits++;
      return hit;
    };
    const loaded = loadManifests([path.join(dir, 'm')], { recursive: false, env: {}, cache });
    cache.save();
    return { loaded, hits };
  };

  it('serves unchanged files from the last run and parses a changed one again', () => {
    fs.writeFileSync(path.join(dir, 'm', 'a.yaml'), app('a', 'echo a'));
    fs.writeFileSync(path.join(dir, 'm', 'b.yaml'), app('b', 'echo b'));
    const first = run();
    expect(first.hits).toBe(0);
    expect(fs.statSync(cacheFile).mode & 0o777).toBe(0o600);
    const second = run();
    expect(second.hits).toBe(2);
    expect(second.loaded).toEqual(first.loaded);

    fs.writeFileSync(path.join(dir, 'm', 'b.yaml'), app('b', 'echo b2'));
    const third = run();
    expect(third.hits).toBe(1);
    expect((third.loaded[1]!.manifest.spec as { command: string[] }).command[2]).toBe('echo b2');
  });

  it('never keeps a file with a Secret (its values stay out of the cache file)', () => {
    fs.writeFileSync(path.join(dir, 'm', 'a.yaml'), app('a', 'echo a'));
    fs.writeFileSync(path.join(dir, 'm', 's.yaml'), secret);
    run();
    expect(run().hits).toBe(1);
    expect(fs.readFileSync(cacheFile, 'utf8')).not.toContain('hunter2');
  });

  it('in memory, forgets what the last pass did not use', () => {
    const cache = new MemoryParseCache();
    const file = path.join(dir, 'm', 'a.yaml');
    cache.set(file, 'x', []);
    cache.retainUsed();
    expect(cache.get(file, 'x')).toEqual([]);
    cache.retainUsed();
    cache.retainUsed();
    expect(cache.get(file, 'x')).toBeUndefined();
  });
});
