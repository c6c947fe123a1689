// Test helpers: build layer tars in memory with tar-stream's pack, compress them, and inspect a temp work area.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import tar from 'tar-stream';

export interface FixtureEntry {
  name: string;
  type?: tar.Header['type'];
  /** Buffers carry binary payloads (e.g. the host's busybox). */
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
  mtime?: Date;
  uid?: number;
  gid?: number;
}

export async function makeTar(entries: FixtureEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c) => chunks.push(c as Buffer));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      mtime: e.mtime ?? new Date('2021-06-07T08:09:10Z'),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
    };
    await new Promise<void>((resolve, reject) => {
      if (type === 'file') pack.entry(header, e.content ?? '', (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const gzip = (b: Buffer) => zlib.gzipSync(b);

export const hasZstd = (() => {
  try {
    execFileSync('zstd', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

export const zstd = (b: Buffer) => execFileSync('zstd', ['-q', '-c', '-3'], { input: b, maxBuffer: 256 * 1024 * 1024 });

/** A readable that yields `buf` in small chunks, to exercise magic sniffing and decoders across chunk borders. */
export function streamOf(buf: Buffer, chunk = 3): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) parts.push(buf.subarray(i, i + chunk));
  return Readable.from(parts);
}

export const isRoot = process.getuid?.() === 0;

/** A temp area: `base/sentinel` (must stay empty) and `base/layers` (where dests go). */
export function workArea(): { base: string; sentinel: string; layers: string; cleanup: () => void } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-images-'));
  const sentinel = path.join(base, 'sentinel');
  const layers = path.join(base, 'layers');
  fs.mkdirSync(sentinel);
  fs.mkdirSync(layers);
  return { base, sentinel, layers, cleanup: () => fs.rmSync(base, { recursive: true, force: true }) };
}

/** Every path under `dir`, relative, sorted. */
export function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      out.push(r);
      const st = fs.lstatSync(path.join(dir, r));
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out.sort();
}
