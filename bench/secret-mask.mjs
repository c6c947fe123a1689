// Secret masking throughput: `SecretMasker.push` over machine output, against `LineSplitter.push` over the
// same chunks (the work an instance log does on every chunk already), in the same run. Input: 32 MiB of
// log-like text (seeded PRNG, lines of 40-160 bytes) in 16 KiB chunks (an output frame), 20 secret values
// of 16-48 bytes, one printed every ~1000 lines. A second line is the adversarial case: output that is
// nothing but a long prefix of a value, again and again (`aaa…a` against the value `aaa…ab`), so every byte
// walks the automaton and a value's worth of bytes is always held back. Medians over BENCH_RUNS (default 5)
// runs each, after one untimed warm-up.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, percentile, report, round, mulberry32 } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const MIB = 1024 * 1024;
const INPUT_BYTES = 32 * MIB;
const CHUNK = 16 * 1024;

async function load(rel) {
  const file = path.join(ROOT, 'dist', rel);
  if (!fs.existsSync(file)) throw new Error('dist/ is missing: run `npm run build` first');
  return import(file);
}
const { SecretMasker, SecretPatterns } = await load('logs/secret-masker.js');
const { LineSplitter } = await load('logs/line-splitter.js');

const rand = mulberry32(0x5ec2e7);
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const token = (n) => Array.from({ length: n }, () => ALNUM[int(0, ALNUM.length - 1)]).join('');
const WORDS = 'GET POST /api/v1/items 200 404 500 ms request response user session token key value error warn info debug the a of to in is'.split(' ');

const secrets = Array.from({ length: 20 }, () => `sk-${token(int(13, 45))}`);
function logText() {
  const lines = [];
  let size = 0;
  for (let i = 0; size < INPUT_BYTES; i++) {
    let line = `2026-12-06T10:00:${String(i % 60).padStart(2, '0')}Z`;
    const target = int(40, 160);
    while (line.length < target) line += ' ' + WORDS[int(0, WORDS.length - 1)];
    if (i % 1000 === 999) line += ` auth=${secrets[int(0, secrets.length - 1)]}`;
    lines.push(line);
    size += line.length + 1;
  }
  return Buffer.from(lines.join('\n') + '\n');
}

const chunksOf = (buf) => Array.from({ length: Math.ceil(buf.length / CHUNK) }, (_, i) => buf.subarray(i * CHUNK, (i + 1) * CHUNK));

/** MB/s of `make().push` over the chunks, and the bytes it put out. */
function throughput(chunks, make, finish) {
  const t0 = performance.now();
  const sink = make();
  let out = 0;
  for (const c of chunks) {
    const r = sink.push(c);
    out += r.length;
  }
  out += finish(sink);
  return { mbps: INPUT_BYTES / MIB / ((performance.now() - t0) / 1000), out };
}

function measure(name, input, values) {
  const chunks = chunksOf(input);
  const patterns = SecretPatterns.of(values);
  const splitter = () => throughput(chunks, () => new LineSplitter(), (s) => s.flush().length);
  const masker = () => throughput(chunks, () => new SecretMasker(() => patterns), (m) => m.flush().length);
  splitter();
  const warm = masker();
  const base = [];
  const mask = [];
  for (let i = 0; i < RUNS; i++) {
    base.push(splitter().mbps);
    mask.push(masker().mbps);
  }
  const p50 = (xs) => round(percentile(xs, 50));
  report({
    name,
    runs: RUNS,
    input_mib: round(input.length / MIB),
    values: values.length,
    masked_out_mib: round(warm.out / MIB),
    mask_mbps_p50: p50(mask),
    line_splitter_mbps_p50: p50(base),
    ratio_p50: round(percentile(mask, 50) / percentile(base, 50)),
  });
}

measure('secret-mask', logText(), secrets);
// Adversarial: 'a' x 64 then 'b' is the value; the output is only a's, each byte a step, 64 bytes always held.
measure('secret-mask-adversarial', Buffer.alloc(INPUT_BYTES, 'a'), [`${'a'.repeat(64)}b`, ...secrets]);
