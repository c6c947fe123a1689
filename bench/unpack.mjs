// OCI layer unpacking throughput: Aegis's `unpackLayer` against GNU `tar -x` of the same layers on the same
// disk. A ~100 MiB (uncompressed) 4-layer image is generated deterministically (seeded PRNG, no network) in a
// temp dir under os.tmpdir(): thousands of small text-like files in nested dirs, medium files, one large
// partly-compressible file per layer, symlinks, and `.wh.` whiteouts in the upper layers. Layers are gzip
// level 6 (zlib's and `docker push`'s default). Each run unpacks the whole image both ways, order alternating;
// figures are medians over BENCH_RUNS runs (default 5), after one untimed warm-up of each. A second line
// does the same with the uncompressed layer tars (`tar -xf` against mediaType `…layer.v1.tar`).
// Outputs stay until the end (about 2 GiB, 170k inodes): on ext4, inodes freed in the last minutes make
// new-inode allocation scan (`recently_deleted` in __ext4_new_inode), so removing them between runs inflated
// and scattered both sides' times. `sync` runs between measurements, untimed; no cache is dropped, so the
// layer blobs come from the page cache and neither side's writes are flushed inside the timed span.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { ROOT, percentile, report, round, mulberry32 } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SEED = 0xae915;
const GZIP_LEVEL = 6;
const LAYERS = 4;
const MT_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const MT_TAR = 'application/vnd.oci.image.layer.v1.tar';
const MIB = 1024 * 1024;

async function loadUnpacker() {
  const file = path.join(ROOT, 'dist/images/layers/index.js');
  if (!fs.existsSync(file)) throw new Error('dist/ is missing: run `npm run build` first');
  return (await import(file)).unpackLayer;
}

// ---- deterministic image generation ----


const rand = mulberry32(SEED);
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (xs) => xs[Math.floor(rand() * xs.length)];

const WORDS = (
  'const let function return if else for while import export from default class extends new this null undefined ' +
  'true false async await try catch throw error value result config options buffer stream path file dir layer image ' +
  'node module package version license copyright author description main index test spec util lib src dist build ' +
  'the of and to in is that it with as for on was by at be this are or from an not which have has but all were when'
).split(' ');

/** ~4 MiB of source-code-like text; files take slices of it at random offsets. */
function textPool(bytes) {
  const lines = [];
  let n = 0;
  while (n < bytes) {
    const indent = ' '.repeat(2 * int(0, 4));
    const words = Array.from({ length: int(2, 12) }, () => pick(WORDS));
    const line = `${indent}${words.join(' ')}${pick([';', ' {', '}', ',', '', ' = 0x' + int(0, 0xffff).toString(16) + ';'])}\n`;
    lines.push(line);
    n += line.length;
  }
  return Buffer.from(lines.join(''));
}

const POOL = textPool(4 * MIB);
const text = (size) => {
  const off = int(0, POOL.length - size);
  return POOL.subarray(off, off + size);
};
function randomBytes(size) {
  const words = new Uint32Array(Math.ceil(size / 4));
  for (let i = 0; i < words.length; i++) words[i] = (rand() * 4294967296) >>> 0;
  return Buffer.from(words.buffer, 0, size);
}
/** Half incompressible, half text, in 64 KiB blocks: gzip gets it to a bit over half its size. */
function partlyCompressible(size) {
  const parts = [];
  for (let n = 0; n < size; n += 64 * 1024) {
    const len = Math.min(64 * 1024, size - n);
    parts.push(rand() < 0.5 ? randomBytes(len) : Buffer.from(text(len)));
  }
  return Buffer.concat(parts);
}

const MTIME = new Date('2024-01-01T00:00:00Z');

/** Layer `li`'s entries: nested dirs, small and medium files, one large file, symlinks; whiteouts of lower-layer files above layer 0. */
function layerEntries(li, lowerFiles) {
  const entries = new Map();
  const addDir = (dir) => {
    const parts = dir.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (!entries.has(p)) entries.set(p, { header: { name: p, type: 'directory', mode: 0o755, mtime: MTIME } });
    }
  };
  const dirs = [];
  for (let i = 0; i < 120; i++) {
    const depth = int(2, 5);
    const parts = [pick(['usr', 'usr', 'opt', 'etc', 'var']), pick(['lib', 'share', 'local', 'include'])];
    parts.push(`pkg${li}-${int(0, 29)}`);
    for (let d = 3; d < depth; d++) parts.push(pick(['src', 'lib', 'dist', 'data', 'doc', 'test', 'bin']) + int(0, 3));
    const dir = parts.slice(0, depth).join('/');
    addDir(dir);
    dirs.push(dir);
  }
  const files = [];
  const addFile = (dir, base, body, mode = 0o644) => {
    const name = `${dir}/${base}`;
    if (entries.has(name)) return;
    entries.set(name, { header: { name, type: 'file', mode, mtime: MTIME }, body });
    files.push(name);
  };
  for (let i = 0; i < 2000; i++) addFile(pick(dirs), `f${i}.${pick(['js', 'ts', 'py', 'txt', 'json', 'md', 'h'])}`, text(int(1024, 8192)));
  for (let i = 0; i < 12; i++) addFile(pick(dirs), `m${i}.${pick(['so', 'bin', 'dat'])}`, rand() < 0.5 ? text(int(100 * 1024, 1024 * 1024)) : partlyCompressible(int(100 * 1024, 1024 * 1024)), 0o755);
  addDir(`opt/big${li}`);
  addFile(`opt/big${li}`, 'blob.img', partlyCompressible(9 * MIB));
  for (let i = 0; i < 200; i++) {
    const target = pick(files);
    const dir = pick(dirs);
    const name = `${dir}/l${i}`;
    if (entries.has(name)) continue;
    entries.set(name, { header: { name, type: 'symlink', linkname: path.posix.relative(dir, target), mode: 0o777, mtime: MTIME } });
  }
  const whiteouts = [];
  for (let i = 0; li > 0 && i < 3; i++) {
    const hidden = pick(lowerFiles);
    const name = `${path.posix.dirname(hidden)}/.wh.${path.posix.basename(hidden)}`;
    if (entries.has(name)) continue;
    addDir(path.posix.dirname(hidden));
    entries.set(name, { header: { name, type: 'file', mode: 0o644, mtime: MTIME }, body: Buffer.alloc(0) });
    whiteouts.push(name);
  }
  // Sorted by name: each directory comes before what is in it, as in `tar -c` output.
  const sorted = [...entries.values()].sort((a, b) => (a.header.name < b.header.name ? -1 : a.header.name > b.header.name ? 1 : 0));
  return { entries: sorted, files, whiteouts: whiteouts.length, symlinks: sorted.filter((e) => e.header.type === 'symlink').length };
}

async function packTar(entries) {
  const pack = tar.pack();
  const chunks = [];
  pack.on('data', (c) => chunks.push(c));
  const done = new Promise((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) pack.entry({ ...e.header }, e.body);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function generateImage(dir) {
  const gzip = promisify(zlib.gzip);
  const layers = [];
  const allFiles = [];
  for (let li = 0; li < LAYERS; li++) {
    const l = layerEntries(li, allFiles);
    allFiles.push(...l.files);
    const tarBuf = await packTar(l.entries);
    const tarPath = path.join(dir, `layer${li}.tar`);
    fs.writeFileSync(tarPath, tarBuf);
    layers.push({ tarPath, gzPath: path.join(dir, `layer${li}.tar.gz`), tarBuf, files: l.files.length, whiteouts: l.whiteouts, symlinks: l.symlinks });
  }
  // Compressed in parallel on the libuv pool.
  await Promise.all(layers.map(async (l) => fs.writeFileSync(l.gzPath, await gzip(l.tarBuf, { level: GZIP_LEVEL }))));
  for (const l of layers) {
    l.tarBytes = l.tarBuf.length;
    l.gzBytes = fs.statSync(l.gzPath).size;
    delete l.tarBuf;
  }
  return layers;
}

// ---- measurement ----

let seq = 0;
const fresh = (work, tag) => path.join(work, `${tag}-${seq++}`);

function settle() {
  spawnSync('sync');
}

function tarImage(work, files, flag) {
  const dests = files.map(() => fresh(work, 'tar'));
  for (const d of dests) fs.mkdirSync(d);
  const t0 = performance.now();
  files.forEach((f, i) => {
    const r = spawnSync('tar', [flag, f, '-C', dests[i]], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`tar ${flag} ${f} failed (${r.status}): ${r.stderr}`);
  });
  const ms = performance.now() - t0;
  settle();
  return ms;
}

async function aegisImage(unpackLayer, work, files, mediaType, check) {
  const dests = files.map(() => fresh(work, 'aegis'));
  const stats = [];
  const t0 = performance.now();
  for (let i = 0; i < files.length; i++) stats.push(await unpackLayer(fs.createReadStream(files[i], { highWaterMark: 1 << 20 }), dests[i], { mediaType })); // as LayerStore reads blobs
  const ms = performance.now() - t0;
  check?.(stats);
  settle();
  return ms;
}

async function compare(unpackLayer, work, files, mediaType, flag, check) {
  // Warm-up (JIT, page cache of the blobs, dentry caches), checked, untimed.
  tarImage(work, files, flag);
  await aegisImage(unpackLayer, work, files, mediaType, check);
  const tarMs = [];
  const aegisMs = [];
  for (let r = 0; r < RUNS; r++) {
    if (r % 2 === 0) {
      tarMs.push(tarImage(work, files, flag));
      aegisMs.push(await aegisImage(unpackLayer, work, files, mediaType));
    } else {
      aegisMs.push(await aegisImage(unpackLayer, work, files, mediaType));
      tarMs.push(tarImage(work, files, flag));
    }
  }
  return { tarMs, aegisMs };
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-bench-unpack-'));
const cleanup = () => fs.rmSync(work, { recursive: true, force: true });
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    cleanup();
    process.exit(130);
  });
}

try {
  const unpackLayer = await loadUnpacker();
  const tGen = performance.now();
  const layers = await generateImage(work);
  const genMs = performance.now() - tGen;

  const tarBytes = layers.reduce((s, l) => s + l.tarBytes, 0);
  const gzBytes = layers.reduce((s, l) => s + l.gzBytes, 0);
  const files = layers.reduce((s, l) => s + l.files, 0);
  const whiteouts = layers.reduce((s, l) => s + l.whiteouts, 0);
  const symlinks = layers.reduce((s, l) => s + l.symlinks, 0);
  const imageMb = tarBytes / MIB;
  const check = (stats) => {
    const got = stats.reduce((s, x) => s + x.files, 0);
    const gotWh = stats.reduce((s, x) => s + x.whiteouts, 0);
    if (got !== files || gotWh !== whiteouts) throw new Error(`unpackLayer reported ${got} files and ${gotWh} whiteouts, expected ${files} and ${whiteouts}`);
  };

  const line = (name, { tarMs, aegisMs }, extra) => {
    const tarP50 = percentile(tarMs, 50);
    const aegisP50 = percentile(aegisMs, 50);
    report({
      name,
      image_mb: round(imageMb),
      ...extra,
      layers: LAYERS,
      files,
      symlinks,
      whiteouts,
      runs: RUNS,
      tar_ms_p50: round(tarP50),
      aegis_ms_p50: round(aegisP50),
      tar_mb_s: round(imageMb / (tarP50 / 1000)),
      aegis_mb_s: round(imageMb / (aegisP50 / 1000)),
      // Aegis throughput over tar's (same bytes, so tar_ms / aegis_ms); the target is >= 0.8.
      ratio_vs_tar: round(tarP50 / aegisP50),
      tar_ms: tarMs.map(round),
      aegis_ms: aegisMs.map(round),
    });
  };

  const gz = await compare(unpackLayer, work, layers.map((l) => l.gzPath), MT_GZIP, '-xzf', check);
  line('unpack', gz, { compressed_mb: round(gzBytes / MIB), gzip_level: GZIP_LEVEL, gen_ms: round(genMs) });
  const plain = await compare(unpackLayer, work, layers.map((l) => l.tarPath), MT_TAR, '-xf', check);
  line('unpack-uncompressed', plain, {});
} finally {
  cleanup();
}
