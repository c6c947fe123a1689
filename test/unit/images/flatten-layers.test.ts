// flattenLayers: whiteouts and opaque dirs in both unpack forms, no write through lower symlinks, atomicity; plus a real overlayfs mount of the layer dirs.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flattenLayers, unpackLayer } from '../../../src/images/layers/index.js';
import { isRoot, makeTar, streamOf, tree, workArea, type FixtureEntry } from '../../support/tar-fixtures.js';

const lower: FixtureEntry[] = [
  { name: 'a/keep', content: 'keep' },
  { name: 'a/gone', content: 'gone' },
  { name: 'd/x', content: 'x' },
  { name: 'd/sub/deep', content: 'deep' },
  { name: 'hl1', content: 'shared' },
  { name: 'hl2', type: 'link', linkname: 'hl1' },
  { name: 'lib', type: 'symlink', linkname: '../sentinel' },
  { name: 'etc/', type: 'directory', mode: 0o700 },
];
const upper: FixtureEntry[] = [
  { name: 'a/.wh.gone', content: '' },
  { name: 'd/.wh..wh..opq', content: '' },
  { name: 'd/y', content: 'y' },
  // A real dir where the lower layer had a symlink: must replace it, not write through it.
  { name: 'lib/', type: 'directory' },
  { name: 'lib/libc.so', content: 'libc' },
  { name: 'etc/', type: 'directory', mode: 0o750 },
];

const expected = ['a', 'a/keep', 'd', 'd/y', 'etc', 'hl1', 'hl2', 'lib', 'lib/libc.so'];

describe('flattenLayers', () => {
  let area: ReturnType<typeof workArea>;
  beforeEach(() => {
    area = workArea();
  });
  afterEach(() => area.cleanup());

  async function unpackBoth(asRoot: boolean): Promise<string[]> {
    const dirs = [path.join(area.layers, 'lower'), path.join(area.layers, 'upper')];
    await unpackLayer(streamOf(await makeTar(lower), 512), dirs[0], { asRoot });
    await unpackLayer(streamOf(await makeTar(upper), 512), dirs[1], { asRoot });
    return dirs;
  }

  function checkMerged(merged: string) {
    expect(tree(merged)).toEqual(expected);
    expect(fs.readFileSync(path.join(merged, 'a/keep'), 'utf8')).toBe('keep');
    expect(fs.readFileSync(path.join(merged, 'd/y'), 'utf8')).toBe('y');
    expect(fs.lstatSync(path.join(merged, 'lib')).isDirectory()).toBe(true);
    expect(fs.statSync(path.join(merged, 'hl2')).ino).toBe(fs.statSync(path.join(merged, 'hl1')).ino);
    expect(fs.statSync(path.join(merged, 'etc')).mode & 0o777).toBe(0o750);
    expect(fs.readdirSync(area.sentinel)).toEqual([]);
  }

  it.skipIf(!isRoot)('honours overlayfs-form whiteouts (char 0/0) and opaque dirs (xattr)', async () => {
    const dirs = await unpackBoth(true);
    const merged = path.join(area.base, 'merged');
    await flattenLayers(dirs, merged);
    checkMerged(merged);
    expect(fs.readdirSync(area.base).sort()).toEqual(['layers', 'merged', 'sentinel']);
  });

  it('honours the whiteout record written without root', async () => {
    const dirs = await unpackBoth(false);
    const merged = path.join(area.base, 'merged');
    await flattenLayers(dirs, merged);
    checkMerged(merged);
  });

  it('refuses an existing destination and leaves no temp dir when a layer is missing', async () => {
    const dirs = await unpackBoth(false);
    fs.mkdirSync(path.join(area.base, 'exists'));
    await expect(flattenLayers(dirs, path.join(area.base, 'exists'))).rejects.toThrow(/already exists/);
    await expect(flattenLayers([...dirs, path.join(area.base, 'nope')], path.join(area.base, 'merged'))).rejects.toThrow(/flattening layers/);
    expect(fs.readdirSync(area.base).sort()).toEqual(['exists', 'layers', 'sentinel']);
  });

  it.skipIf(!isRoot)('the unpacked layer dirs work as overlayfs lower dirs', async (ctx) => {
    const dirs = await unpackBoth(true);
    const mnt = path.join(area.base, 'mnt');
    fs.mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${dirs[1]}:${dirs[0]}`, mnt], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      ctx.skip(`overlayfs mount not permitted here: ${String(err).split('\n')[0]}`);
      return;
    }
    try {
      expect(tree(mnt)).toEqual(expected);
      expect(fs.readFileSync(path.join(mnt, 'lib/libc.so'), 'utf8')).toBe('libc');
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});
