// The guest Node runtime and the busybox base rootfs: built once, atomically, and usable from any image.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { aegisPaths, type AegisPaths } from '../../../src/config/paths.js';
import { ensureBaseRootfs } from '../../../src/vmm/rootfs/base-rootfs.js';
import { provisionRuntime, readRuntimeInfo, sharedLibraries } from '../../../src/vmm/runtime/node-runtime.js';
import { HARNESS } from './sandbox-fixture.js';

describe('guest runtime and base rootfs', () => {
  let home: string;
  let paths: AegisPaths;

  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-prov-'));
    paths = aegisPaths({ AEGIS_HOME: home });
  });
  afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

  it('builds one runtime for concurrent callers, with node, its libraries, its loader and the harness', async () => {
    const [a, b] = await Promise.all([provisionRuntime(paths, HARNESS), provisionRuntime(paths, HARNESS)]);
    expect(a).toBe(b);
    expect(fs.readdirSync(paths.runtime)).toEqual([path.basename(a)]); // no second dir, no .tmp- leftovers
    const { loader } = readRuntimeInfo(a);
    for (const lib of sharedLibraries(process.execPath).libs.keys()) expect(fs.existsSync(path.join(a, 'lib', lib))).toBe(true);
    expect(fs.readFileSync(path.join(a, 'harness', 'aegis-harness.mjs'))).toEqual(fs.readFileSync(HARNESS));
    // It runs on its own libraries, through its own loader, the way the guest starts it.
    const version = execFileSync(path.join(a, 'lib', loader), ['--library-path', path.join(a, 'lib'), path.join(a, 'bin', 'node'), '-p', 'process.version'], {
      encoding: 'utf8',
      env: { PATH: '/nonexistent' },
    }).trim();
    expect(version).toBe(process.version);
  }, 60_000);

  it('returns the existing runtime at once on later calls (no second copy)', async () => {
    const dir = await provisionRuntime(paths, HARNESS);
    const inode = fs.statSync(path.join(dir, 'bin', 'node')).ino;
    const t0 = performance.now();
    expect(await provisionRuntime(paths, HARNESS)).toBe(dir);
    expect(performance.now() - t0).toBeLessThan(500);
    expect(fs.statSync(path.join(dir, 'bin', 'node')).ino).toBe(inode);
  }, 60_000);

  it('removes older runtimes only when no live machine might use them', async () => {
    const old = path.join(paths.runtime, '0ldversion00000');
    const makeOld = () => {
      fs.mkdirSync(old, { recursive: true });
      fs.writeFileSync(path.join(old, 'runtime.json'), '{}');
    };
    const record = (extra: object) => {
      fs.mkdirSync(path.join(paths.machines, 'mach-live'), { recursive: true });
      fs.writeFileSync(path.join(paths.machines, 'mach-live', 'state.json'), JSON.stringify({ pid: process.pid, ...extra }));
    };
    makeOld();
    record({ runtimeDir: old }); // a live machine mounts it
    const current = await provisionRuntime(paths, HARNESS);
    expect(fs.existsSync(old)).toBe(true);
    record({}); // a live machine that does not say which runtime it uses: unsure, keep everything
    await provisionRuntime(paths, HARNESS);
    expect(fs.existsSync(old)).toBe(true);
    record({ pid: 2 ** 22 + 1, runtimeDir: old }); // its machine is gone
    await provisionRuntime(paths, HARNESS);
    expect(fs.existsSync(old)).toBe(false);
    expect(fs.existsSync(current)).toBe(true);
  }, 60_000);

  it('builds the busybox rootfs once: an applet link per command, the /etc files and the empty dirs', async () => {
    const [dir, again] = await Promise.all([ensureBaseRootfs(paths), ensureBaseRootfs(paths)]);
    expect(again).toBe(dir);
    expect(fs.readdirSync(paths.rootfs).filter((d) => d.startsWith('.tmp-'))).toEqual([]);
    expect(fs.readlinkSync(path.join(dir, 'bin', 'sh'))).toBe('/bin/busybox');
    expect(fs.readlinkSync(path.join(dir, 'bin', 'ls'))).toBe('/bin/busybox');
    expect(fs.statSync(path.join(dir, 'bin', 'busybox')).mode & 0o111).not.toBe(0);
    expect(fs.readFileSync(path.join(dir, 'etc', 'passwd'), 'utf8')).toMatch(/^root:x:0:0:.*\nnobody:/);
    expect(fs.readFileSync(path.join(dir, 'etc', 'hosts'), 'utf8')).toMatch(/127\.0\.0\.1\s+localhost[\s\S]*::1\s+localhost/);
    expect(fs.existsSync(path.join(dir, 'etc', 'group'))).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'etc', 'resolv.conf'), 'utf8')).toMatch(/^nameserver /m);
    for (const d of ['proc', 'dev', 'sys', 'tmp', 'run', 'var', 'workspace', 'root', '.aegis']) expect(fs.statSync(path.join(dir, d)).isDirectory()).toBe(true);
    expect(fs.statSync(path.join(dir, 'tmp')).mode & 0o7777).toBe(0o1777);
    const t0 = performance.now();
    expect(await ensureBaseRootfs(paths)).toBe(dir);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});
