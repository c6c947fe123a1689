// Frame encoder and incremental decoder: exact layout, arbitrary chunking, corrupt input.
import { describe, expect, it } from 'vitest';
import {
  encodeFrame,
  encodeJsonFrame,
  FrameDecoder,
  FrameError,
  frameJson,
  FRAME_TYPES,
  MAX_FRAME_PAYLOAD,
  type Frame,
  type FrameType,
} from '../../../src/protocol/frames.js';

/** Small deterministic PRNG (mulberry32) so a failing seed can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TYPES = Object.values(FRAME_TYPES) as FrameType[];

function randomFrames(rand: () => number, count: number): { type: FrameType; payload: Buffer }[] {
  return Array.from({ length: count }, () => {
    const size = rand() < 0.1 ? 0 : rand() < 0.9 ? Math.floor(rand() * 64) : Math.floor(rand() * 70_000);
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i++) payload[i] = Math.floor(rand() * 256);
    return { type: TYPES[Math.floor(rand() * TYPES.length)], payload };
  });
}

function decodeAll(chunks: Buffer[]): Frame[] {
  const decoder = new FrameDecoder();
  const out = chunks.flatMap((c) => decoder.push(c));
  decoder.end();
  return out;
}

function same(a: Frame[], b: { type: FrameType; payload: Buffer }[]): void {
  expect(a.length).toBe(b.length);
  a.forEach((f, i) => {
    expect(f.type).toBe(b[i].type);
    expect(Buffer.compare(f.payload, b[i].payload)).toBe(0);
  });
}

describe('encodeFrame', () => {
  it('writes type, big-endian length, payload', () => {
    const frame = encodeFrame(FRAME_TYPES.stderr, Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    expect([...frame]).toEqual([3, 0, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef]);
    const big = encodeFrame(FRAME_TYPES.stdout, Buffer.alloc(0x010203));
    expect([...big.subarray(0, 5)]).toEqual([2, 0x00, 0x01, 0x02, 0x03]);
  });

  it('round-trips JSON frames', () => {
    const [frame] = decodeAll([encodeJsonFrame(FRAME_TYPES.exit, { code: null, signal: 'SIGKILL' })]);
    expect(frame.type).toBe(FRAME_TYPES.exit);
    expect(frameJson(frame)).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('refuses an oversized payload', () => {
    expect(() => encodeFrame(FRAME_TYPES.stdout, new Uint8Array(MAX_FRAME_PAYLOAD + 1))).toThrow(FrameError);
  });
});

describe('FrameDecoder', () => {
  it('decodes many frames from one chunk', () => {
    const frames = randomFrames(rng(1), 200);
    same(decodeAll([Buffer.concat(frames.map((f) => encodeFrame(f.type, f.payload)))]), frames);
  });

  it('decodes a stream fed one byte at a time', () => {
    const frames = randomFrames(rng(2), 30).map((f) => ({ ...f, payload: f.payload.subarray(0, 100) }));
    const bytes = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.payload)));
    same(decodeAll([...bytes].map((b) => Buffer.from([b]))), frames);
  });

  it('property: random splits of a frame stream decode identically', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = rng(seed * 7919);
      const frames = randomFrames(rand, 1 + Math.floor(rand() * 40));
      const bytes = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.payload)));
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; ) {
        // Mostly tiny splits (inside headers), sometimes large ones spanning several frames.
        const step = rand() < 0.5 ? 1 + Math.floor(rand() * 7) : 1 + Math.floor(rand() * 100_000);
        chunks.push(bytes.subarray(at, at + step));
        at += step;
      }
      try {
        same(decodeAll(chunks), frames);
      } catch (err) {
        throw new Error(`seed ${seed}: ${(err as Error).message}`);
      }
    }
  });

  it('accepts Uint8Array chunks that are not Buffers', () => {
    const bytes = encodeFrame(FRAME_TYPES.stdout, Buffer.from('hello'));
    const decoder = new FrameDecoder();
    const view = new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    expect(decoder.push(view.subarray(0, 3))).toEqual([]);
    const [frame] = decoder.push(view.subarray(3));
    expect(frame.payload.toString()).toBe('hello');
  });

  it('reports how much is pending and refuses to end inside a frame', () => {
    const decoder = new FrameDecoder();
    decoder.push(encodeFrame(FRAME_TYPES.stdout, Buffer.from('abcdef')).subarray(0, 7));
    expect(decoder.pending).toBe(7);
    expect(() => decoder.end()).toThrow(/inside a frame/);
  });

  it('rejects an unknown frame type and an absurd length', () => {
    expect(() => new FrameDecoder().push(Buffer.from([99, 0, 0, 0, 0]))).toThrow(/unknown frame type 99/);
    expect(() => new FrameDecoder().push(Buffer.from([2, 0xff, 0xff, 0xff, 0xff]))).toThrow(/exceeds/);
  });
});
