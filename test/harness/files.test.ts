// File operations through the control channel against a harness on the host: streaming both ways, tar
// for directories with modes and mtimes kept, atomic writes, the worker's identity and the refusals.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http2 from 'node:http2';
import { Readable } from 'node:stream';
import { encodeFilesRequest } from '../../src/protocol/files.js';
import { HEADERS, ROUTES } from '../../src/protocol/routes.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '../../src/protocol/version.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tar from 'tar-stream';
import { ChannelError, type ControlClient } from '../../src/vmm/channel/control-client.js';
import { buildHarness, collect, startHarness, waitFor, type RunningHarness } from './harness-fixture.js';

const opts = { timeoutMs: 20_000 };

describe('files over the control channel', () => {
  let h: RunningHarness;
  let client: ControlClient;
  let dir: string;

  beforeAll(async () => {
    // The worker runs as other users too: they must be able to read the bundle (the test cache may be private).
    const bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-files-bundle-'));
    fs.chmodSync(bundleDir, 0o755);
    fs.copyFileSync(await buildHarness(), path.join(bundleDir, 'aegis-harness.mjs'));
    h = await startHarness(path.join(bundleDir, 'aegis-harness.mjs'));
    client = await h.connect();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-files-'));
  });
  afterAll(async () => {
    await client?.close();
    await h?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes a file atomically (parents created, mode and mtime set) and reads it back streamed', async () => {
    const file = path.join(dir, 'a/b/c.bin');
    const data = Buffer.alloc(3 * 1024 * 1024 + 7, 'x');
    const w = await client.writeFile({ path: file, mode: 0o640, mtime: 1_600_000_000_123 }, Readable.from([data.subarray(0, 100), data.subarray(100)]), opts);
    expect(w).toEqual({ path: file, bytes: data.length });
    const st = fs.statSync(file);
    expect(st.mode & 0o777).toBe(0o640);
    expect(Math.round(st.mtimeMs)).toBe(1_600_000_000_123);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['c.bin']); // no temp file left
    const r = await client.readFile({ path: file }, opts);
    expect(r.meta).toEqual({ type: 'file', size: data.length, mode: '640', mtime: 1_600_000_000_123 });
    expect((await collect(r.body)).equals(data)).toBe(true);
  });

  it('cuts a read at maxBytes and says by how much', async () => {
    const file = path.join(dir, 'long.txt');
    fs.writeFileSync(file, 'abcdefghij');
    const r = await client.readFile({ path: file, maxBytes: 4 }, opts);
    expect(r.meta).toMatchObject({ size: 10, truncated: 6 });
    expect((await collect(r.body)).toString()).toBe('abcd');
  });

  it('round-trips a directory as tar with modes, mtimes and symlinks', async () => {
    const src = path.join(dir, 'tree');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(src, 'sub/run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(src, 'empty'), '');
    fs.symlinkSync('sub/run.sh', path.join(src, 'link'));
    fs.chmodSync(path.join(src, 'sub'), 0o750);
    fs.utimesSync(path.join(src, 'sub/run.sh'), new Date(), new Date(1_500_000_000_000));
    fs.utimesSync(path.join(src, 'sub'), new Date(), new Date(1_400_000_000_000));
    const r = await client.readFile({ path: src }, opts);
    expect(r.meta.type).toBe('directory');
    const dest = path.join(dir, 'copy');
    const w = await client.writeFile({ path: dest, tar: true }, r.body, opts);
    expect(w.bytes).toBe(10);
    expect(fs.statSync(path.join(dest, 'sub/run.sh')).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(dest, 'sub')).mode & 0o777).toBe(0o750);
    expect(fs.statSync(path.join(dest, 'sub/run.sh')).mtimeMs).toBe(1_500_000_000_000);
    expect(fs.statSync(path.join(dest, 'sub')).mtimeMs).toBe(1_400_000_000_000);
    expect(fs.readlinkSync(path.join(dest, 'link'))).toBe('sub/run.sh');
    expect(fs.readFileSync(path.join(dest, 'empty'), 'utf8')).toBe('');
  });

  it('stats, lists and deletes', async () => {
    fs.mkdirSync(path.join(dir, 'l/d'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'l/f'), 'abc');
    fs.symlinkSync('/nowhere', path.join(dir, 'l/s'));
    expect(await client.statFile({ path: path.join(dir, 'l/s') }, opts)).toMatchObject({ type: 'symlink', target: '/nowhere' });
    const list = await client.listFiles({ path: path.join(dir, 'l') }, opts);
    expect(list.items.map((i) => [path.basename(i.path), i.type])).toEqual([['d', 'directory'], ['f', 'file'], ['s', 'symlink']]);
    await expect(client.deleteFile({ path: path.join(dir, 'l') }, opts)).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/is a directory/) });
    expect(await client.deleteFile({ path: path.join(dir, 'l'), recursive: true }, opts)).toEqual({ path: path.join(dir, 'l'), deleted: true });
    expect(fs.existsSync(path.join(dir, 'l'))).toBe(false);
  });

  it('says which path is missing, and refuses what is not a file or directory', async () => {
    await expect(client.readFile({ path: path.join(dir, 'nope') }, opts)).rejects.toMatchObject({ code: 'NO_SUCH_FILE' });
    await expect(client.statFile({ path: path.join(dir, 'nope') }, opts)).rejects.toMatchObject({ code: 'NO_SUCH_FILE' });
    await expect(client.readFile({ path: '/dev/null' }, opts)).rejects.toMatchObject({ code: 'BAD_REQUEST', message: 'is not a regular file or a directory' });
  });

  it("refuses the harness's control directory", async () => {
    await expect(client.readFile({ path: h.socketPath }, opts)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(client.writeFile({ path: h.socketPath }, Readable.from([Buffer.from('x')]), opts)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    // Through a symlink too.
    fs.symlinkSync(path.dirname(h.socketPath), path.join(dir, 'sneaky'));
    await expect(client.deleteFile({ path: path.join(dir, 'sneaky/control.sock') }, opts)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    // Nor can a tar stream extract into it.
    const pack = tar.pack();
    pack.entry({ name: 'control.sock' }, 'x');
    pack.finalize();
    await expect(client.writeFile({ path: path.dirname(h.socketPath), tar: true }, pack as unknown as Readable, opts)).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(fs.existsSync(h.socketPath)).toBe(true);
  });

  it("refuses tar entries that leave the directory", async () => {
    const pack = tar.pack();
    pack.entry({ name: 'ok.txt' }, 'fine');
    pack.entry({ name: '../escaped.txt' }, 'bad');
    pack.finalize();
    await expect(client.writeFile({ path: path.join(dir, 'x'), tar: true }, pack as unknown as Readable, opts)).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/outside the directory/) });
    expect(fs.existsSync(path.join(dir, 'escaped.txt'))).toBe(false);
  });

  it.runIf(process.getuid?.() === 0)("runs as the requested user, with that user's permissions", async () => {
    const locked = path.join(dir, 'locked');
    fs.mkdirSync(locked, { mode: 0o700 });
    const denied = await client.writeFile({ path: path.join(locked, 'f'), user: '65534:65534' }, Readable.from([Buffer.from('x')]), opts).catch((e) => e);
    expect(denied).toMatchObject({ code: 'PERMISSION_DENIED' });
    fs.chmodSync(dir, 0o777);
    const open = path.join(dir, 'open');
    fs.mkdirSync(open, { mode: 0o777 });
    fs.chmodSync(open, 0o777);
    await client.writeFile({ path: path.join(open, 'mine'), user: '65534:65534' }, Readable.from([Buffer.from('x')]), opts);
    expect(fs.statSync(path.join(open, 'mine')).uid).toBe(65534);
  });

  it('commits a write only on the trailer that says the body is complete', async () => {
    // What a reset upload looks like to the harness (Node ends the body on RST_STREAM): an end without the trailer.
    const session = http2.connect('http://aegis-harness', { createConnection: () => h.socket() });
    try {
      const target = path.join(dir, 'untrailed/f');
      const stream = session.request({ ':method': 'POST', ':path': ROUTES.files, [PROTOCOL_HEADER]: String(PROTOCOL_VERSION), [HEADERS.files]: encodeFilesRequest({ op: 'write', path: target }) });
      const status = new Promise<number>((resolve) => stream.once('response', (hd) => resolve(Number(hd[':status']))));
      stream.end(Buffer.from('half of it'));
      stream.resume();
      expect(await status).toBe(400);
      expect(fs.existsSync(target)).toBe(false);
      expect(fs.existsSync(path.dirname(target)) ? fs.readdirSync(path.dirname(target)) : []).toEqual([]);
    } finally {
      session.destroy();
    }
  });

  it('a cancelled write leaves no temp file and no target', async () => {
    const input = new Readable({ read() {} });
    input.push(Buffer.alloc(1024 * 1024));
    const ac = new AbortController();
    const p = client.writeFile({ path: path.join(dir, 'cut/f') }, input, { ...opts, signal: ac.signal });
    // Abort once the worker is writing its temp file: what it has then must not become the file.
    const cut = path.join(dir, 'cut');
    await waitFor(() => fs.existsSync(cut) && fs.readdirSync(cut).some((n) => n.startsWith('.f.aegis-')), { what: 'the temp file' });
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(ChannelError);
    await waitFor(() => fs.readdirSync(cut).length === 0, { what: 'the temp file removed' });
    expect(fs.readdirSync(cut)).toEqual([]);
  });
});
