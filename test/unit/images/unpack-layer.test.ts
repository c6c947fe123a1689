// unpackLayer: content, metadata and compression; every malicious layer refused with nothing left behind; whiteouts in both forms.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAegisError } from '../../../src/errors/codes.js';
import { unpackLayer, WHITEOUT_RECORD, type WhiteoutRecord } from '../../../src/images/layers/index.js';
import { gzip, hasZstd, isRoot, makeTar, streamOf, tree, workArea, zstd, type FixtureEntry } from '../../support/tar-fixtures.js';

const MTIME = new Date('2020-01-02T03:04:05Z');

const good: FixtureEntry[] = [
  { name: './', type: 'directory', mode: 0o755 },
  { name: 'bin/', type: 'directory', mode: 0o755, mtime: MTIME },
  { name: 'bin/tool', content: '#!/bin/sh\necho hi\n', mode: 0o4755, mtime: MTIME, uid: 1234, gid: 5678 },
  { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox', mtime: MTIME },
  { name: 'bin/tool-again', type: 'link', linkname: 'bin/tool' },
  { name: 'etc/motd', content: 'welcome\n', mode: 0o600 },
  { name: 'ro/', type: 'directory', mode: 0o555, mtime: MTIME },
  { name: 'ro/inside', content: 'x' },
  { name: 'tmp/', type: 'directory', mode: 0o1777 },
  { name: 'run/pipe', type: 'fifo', mode: 0o640 },
  { name: 'dev/null', type: 'character-device', mode: 0o666 },
  { name: '/abs/ok', content: 'absolute but inside' },
  { name: 'x/../y/z', content: 'normalized' },
];

describe('unpackLayer', () => {
  let area: ReturnType<typeof workArea>;
  beforeEach(() => {
    area = workArea();
  });
  afterEach(() => area.cleanup());

  const dest = () => path.join(area.layers, 'layer');

  it('extracts files, dirs, symlinks, hardlinks, fifos with modes and mtimes, skipping devices', async () => {
    const stats = await unpackLayer(streamOf(await makeTar(good), 4096), dest(), { mediaType: 'application/vnd.oci.image.layer.v1.tar' });
    const d = dest();
    expect(fs.readFileSync(path.join(d, 'bin/tool'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    const tool = fs.statSync(path.join(d, 'bin/tool'));
    expect(tool.mode & 0o7777).toBe(isRoot ? 0o4755 : 0o755);
    expect(tool.mtime.getTime()).toBe(MTIME.getTime());
    if (isRoot) expect([tool.uid, tool.gid]).toEqual([1234, 5678]);
    expect(fs.readlinkSync(path.join(d, 'bin/sh'))).toBe('/bin/busybox');
    expect(fs.lstatSync(path.join(d, 'bin/sh')).mtime.getTime()).toBe(MTIME.getTime());
    expect(fs.statSync(path.join(d, 'bin/tool-again')).ino).toBe(tool.ino);
    expect(fs.statSync(path.join(d, 'etc/motd')).mode & 0o777).toBe(0o600);
    const ro = fs.statSync(path.join(d, 'ro'));
    expect(ro.mode & 0o7777).toBe(0o555);
    expect(ro.mtime.getTime()).toBe(MTIME.getTime());
    expect(fs.statSync(path.join(d, 'bin')).mtime.getTime()).toBe(MTIME.getTime());
    expect(fs.readFileSync(path.join(d, 'ro/inside'), 'utf8')).toBe('x');
    expect(fs.statSync(path.join(d, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(fs.lstatSync(path.join(d, 'run/pipe')).isFIFO()).toBe(true);
    expect(fs.existsSync(path.join(d, 'dev/null'))).toBe(false);
    expect(fs.readFileSync(path.join(d, 'abs/ok'), 'utf8')).toBe('absolute but inside');
    expect(fs.readFileSync(path.join(d, 'y/z'), 'utf8')).toBe('normalized');
    expect(stats).toMatchObject({ files: 5, dirs: 3, symlinks: 1, hardlinks: 1, fifos: 1, devicesSkipped: 1, whiteouts: 0 });
    expect(stats.bytes).toBe(18 + 8 + 1 + 19 + 10);
    // Only the renamed layer dir is left: no temp dir beside it.
    expect(fs.readdirSync(area.layers)).toEqual(['layer']);
    fs.chmodSync(path.join(d, 'ro'), 0o755);
  });

  it('keeps the mode but drops setuid when not asRoot', async () => {
    await unpackLayer(streamOf(await makeTar(good), 4096), dest(), { asRoot: false });
    expect(fs.statSync(path.join(dest(), 'bin/tool')).mode & 0o7777).toBe(0o755);
    fs.chmodSync(path.join(dest(), 'ro'), 0o755);
  });

  const small: FixtureEntry[] = [{ name: 'a/b.txt', content: 'compressed '.repeat(1000) }];

  it('unpacks gzip by media type', async () => {
    await unpackLayer(streamOf(gzip(await makeTar(small)), 1000), dest(), { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' });
    expect(fs.readFileSync(path.join(dest(), 'a/b.txt'), 'utf8')).toBe('compressed '.repeat(1000));
  });

  it('unpacks gzip by magic bytes without a media type', async () => {
    await unpackLayer(streamOf(gzip(await makeTar(small)), 5), dest());
    expect(fs.readFileSync(path.join(dest(), 'a/b.txt'), 'utf8')).toBe('compressed '.repeat(1000));
  });

  it.skipIf(!hasZstd)('unpacks zstd by media type and by magic bytes (fixture made with the zstd CLI)', async () => {
    const blob = zstd(await makeTar(small));
    await unpackLayer(streamOf(blob, 1000), dest(), { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' });
    expect(fs.readFileSync(path.join(dest(), 'a/b.txt'), 'utf8')).toBe('compressed '.repeat(1000));
    const second = path.join(area.layers, 'second');
    await unpackLayer(streamOf(blob, 5), second, { mediaType: 'application/octet-stream' });
    expect(fs.readFileSync(path.join(second, 'a/b.txt'), 'utf8')).toBe('compressed '.repeat(1000));
  });

  it('refuses a destination that already exists', async () => {
    fs.mkdirSync(dest());
    await expect(unpackLayer(streamOf(await makeTar(small)), dest())).rejects.toThrow(/already exists/);
  });

  it('reports a corrupt blob as invalid and leaves nothing', async () => {
    const blob = gzip(await makeTar(small)).subarray(0, 60);
    const err = await unpackLayer(streamOf(blob), dest(), { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }).catch((e) => e);
    expect(isAegisError(err) && err.code).toBe('AEGIS_INVALID');
    expect(fs.readdirSync(area.layers)).toEqual([]);
  });

  it('refuses a layer whose files pass limits.maxBytes, counting across files, and leaves nothing', async () => {
    const tarball = await makeTar([{ name: 'a', content: Buffer.alloc(600) }, { name: 'b', content: Buffer.alloc(600) }]);
    const limits = { maxBytes: 1000, maxEntries: 100 };
    const err = await unpackLayer(streamOf(gzip(tarball), 64), dest(), { limits }).catch((e) => e);
    expect(isAegisError(err) && [err.code, err.message]).toEqual(['AEGIS_TOO_LARGE', 'unpacks to more than 1000B (limits.layer)']);
    expect(fs.readdirSync(area.layers)).toEqual([]);
    expect((await unpackLayer(streamOf(tarball), dest(), { limits: { ...limits, maxBytes: 1200 } })).bytes).toBe(1200);
  });

  it('refuses a layer with more entries than limits.maxEntries and leaves nothing', async () => {
    const tarball = await makeTar([{ name: 'd/', type: 'directory' }, { name: 'd/l', type: 'symlink', linkname: 'x' }, { name: 'f', content: '' }]);
    const err = await unpackLayer(streamOf(tarball), dest(), { limits: { maxBytes: 1000, maxEntries: 2 } }).catch((e) => e);
    expect(isAegisError(err) && [err.code, err.message]).toEqual(['AEGIS_TOO_LARGE', 'has more than 2 entries (limits.layerEntries)']);
    expect(fs.readdirSync(area.layers)).toEqual([]);
  });

  describe('malicious layers', () => {
    const pwned = `/aegis-test-pwned-${process.pid}`;
    afterEach(() => fs.rmSync(pwned, { force: true, recursive: true }));

    const cases: { title: string; entries: FixtureEntry[]; names: RegExp }[] = [
      { title: '../escape', entries: [{ name: 'ok', content: 'fine' }, { name: '../escape', content: 'bad' }], names: /"\.\.\/escape"/ },
      { title: '/abs/../../escape', entries: [{ name: 'ok', content: 'fine' }, { name: '/abs/../../escape', content: 'bad' }], names: /"\/abs\/\.\.\/\.\.\/escape"/ },
      { title: 'deep a/../../escape', entries: [{ name: 'a/../../sentinel/escape', content: 'bad' }], names: /"a\/\.\.\/\.\.\/sentinel\/escape"/ },
      {
        title: 'symlink to / then write through it',
        entries: [{ name: 'link', type: 'symlink', linkname: '/' }, { name: `link${pwned}`, content: 'bad' }],
        names: new RegExp(`"link${pwned}".*symlink "link"`),
      },
      {
        title: 'symlink to .. then write through it',
        entries: [{ name: 'link', type: 'symlink', linkname: '../../sentinel' }, { name: 'link/pwned', content: 'bad' }],
        names: /"link\/pwned".*symlink "link"/,
      },
      {
        title: 'symlink to .. then a directory through it',
        entries: [{ name: 'link', type: 'symlink', linkname: '..' }, { name: 'link/dir/', type: 'directory' }],
        names: /"link\/dir\/".*symlink/,
      },
      {
        title: 'hardlink to ../../etc/passwd',
        entries: [{ name: 'passwd', type: 'link', linkname: '../../etc/passwd' }],
        names: /"passwd".*"\.\.\/\.\.\/etc\/passwd"/,
      },
      {
        title: 'hardlink to a path never extracted',
        entries: [{ name: 'passwd', type: 'link', linkname: 'etc/passwd' }],
        names: /"passwd".*"etc\/passwd".*not a regular file/,
      },
      {
        title: 'hardlink to a symlink (which would resolve on the host)',
        entries: [{ name: 's', type: 'symlink', linkname: '/etc/passwd' }, { name: 'h', type: 'link', linkname: 's' }],
        names: /"h".*not a regular file/,
      },
      {
        title: 'an escaping name with a newline (message stays one line)',
        entries: [{ name: '../evil\nname', content: 'bad' }],
        names: /"\.\.\/evil\\nname"/,
      },
      {
        title: 'the reserved whiteout-record name',
        entries: [{ name: '.aegis-whiteouts.json', content: '{"version":1,"whiteouts":["etc"],"opaqueDirs":[]}' }],
        names: /"\.aegis-whiteouts\.json".*reserves/,
      },
    ];

    for (const c of cases) {
      it(`refuses ${c.title}, naming the entry, leaving nothing behind`, async () => {
        const err = await unpackLayer(streamOf(await makeTar(c.entries), 512), dest()).catch((e) => e);
        expect(isAegisError(err)).toBe(true);
        expect(err.code).toBe('AEGIS_INVALID');
        expect(err.message).toMatch(c.names);
        expect(err.message).not.toContain('\n');
        // Nothing in layers/ (no dest, no .tmp- dir), nothing in the sentinel, nothing beside them, nothing at the host root.
        expect(tree(area.base)).toEqual(['layers', 'sentinel']);
        expect(fs.existsSync(pwned)).toBe(false);
      });
    }

    it('replaces a symlink by a later file of the same name instead of writing through it', async () => {
      const target = path.join(area.sentinel, 'victim');
      fs.writeFileSync(target, 'original');
      await unpackLayer(streamOf(await makeTar([{ name: 'f', type: 'symlink', linkname: target }, { name: 'f', content: 'new' }])), dest());
      expect(fs.readFileSync(target, 'utf8')).toBe('original');
      expect(fs.lstatSync(path.join(dest(), 'f')).isFile()).toBe(true);
      expect(fs.readFileSync(path.join(dest(), 'f'), 'utf8')).toBe('new');
    });
  });

  describe('whiteouts', () => {
    const upper: FixtureEntry[] = [
      { name: 'a/', type: 'directory' },
      { name: 'a/.wh.gone', content: '' },
      { name: 'd/', type: 'directory' },
      { name: 'd/.wh..wh..opq', content: '' },
      { name: 'd/y', content: 'y' },
    ];

    it.skipIf(!isRoot)('as root: a char device 0/0 and the trusted.overlay.opaque xattr, no .wh. files', async () => {
      const stats = await unpackLayer(streamOf(await makeTar(upper), 512), dest(), { asRoot: true });
      const gone = fs.lstatSync(path.join(dest(), 'a/gone'));
      expect(gone.isCharacterDevice()).toBe(true);
      expect(gone.rdev).toBe(0);
      expect(fs.existsSync(path.join(dest(), 'a/.wh.gone'))).toBe(false);
      expect(fs.existsSync(path.join(dest(), 'd/.wh..wh..opq'))).toBe(false);
      const xattr = execFileSync('getfattr', ['--absolute-names', '-n', 'trusted.overlay.opaque', '--only-values', path.join(dest(), 'd')], { encoding: 'utf8' });
      expect(xattr).toBe('y');
      expect(fs.existsSync(path.join(dest(), WHITEOUT_RECORD))).toBe(false);
      expect(stats.whiteouts).toBe(2);
    });

    it('without root: recorded in the whiteout record, no .wh. files', async () => {
      const stats = await unpackLayer(streamOf(await makeTar(upper), 512), dest(), { asRoot: false });
      const rec = JSON.parse(fs.readFileSync(path.join(dest(), WHITEOUT_RECORD), 'utf8')) as WhiteoutRecord;
      expect(rec).toEqual({ version: 1, whiteouts: ['a/gone'], opaqueDirs: ['d'] });
      expect(tree(dest())).toEqual([WHITEOUT_RECORD, 'a', 'd', 'd/y'].sort());
      expect(stats.whiteouts).toBe(2);
    });
  });
});
