// Binary framing of an exec response body: 1-byte type, 4-byte big-endian length, payload.

/** Frame types. `started` and `exit` carry JSON, `stdout`/`stderr` raw bytes, `error` JSON. */
export const FRAME_TYPES = {
  started: 1,
  stdout: 2,
  stderr: 3,
  exit: 4,
  error: 5,
} as const;

export type FrameTypeName = keyof typeof FRAME_TYPES;
export type FrameType = (typeof FRAME_TYPES)[FrameTypeName];

export const FRAME_HEADER_BYTES = 5;

/**
 * Largest payload a decoder accepts; anything bigger means the stream is corrupt (or hostile: the host
 * buffers up to this much of a frame before it can use any of it). Output travels in pipe-sized chunks.
 */
export const MAX_FRAME_PAYLOAD = 1024 * 1024;

const KNOWN_TYPES = new Set<number>(Object.values(FRAME_TYPES));

export interface Frame {
  type: FrameType;
  payload: Buffer;
}

/** Thrown by the decoder when the byte stream is not a valid frame stream. */
export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** Encodes one frame into a single buffer (header and payload together, ready for one write). */
export function encodeFrame(type: FrameType, payload: Uint8Array = new Uint8Array(0)): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) throw new FrameError(`frame payload of ${payload.length} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out[0] = type;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** Encodes a frame whose payload is a JSON value. */
export function encodeJsonFrame(type: FrameType, value: unknown): Buffer {
  return encodeFrame(type, Buffer.from(JSON.stringify(value), 'utf8'));
}

/** Parses the JSON payload of a started/exit/error frame. */
export function frameJson<T>(frame: Frame): T {
  return JSON.parse(frame.payload.toString('utf8')) as T;
}

/**
 * Incremental decoder: feed chunks as they arrive (a frame may be split at any byte, a chunk may
 * hold many frames) and get back the frames completed so far. Payloads that sit inside one chunk
 * are zero-copy views of it; a payload split across chunks is copied once.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Bytes received but not yet part of a complete frame. */
  get pending(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): Frame[] {
    if (chunk.length > 0) {
      this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      this.buffered += chunk.length;
    }
    const frames: Frame[] = [];
    while (this.buffered >= FRAME_HEADER_BYTES) {
      const header = this.peek(FRAME_HEADER_BYTES);
      const type = header[0];
      if (!KNOWN_TYPES.has(type)) throw new FrameError(`unknown frame type ${type}`);
      const length = header.readUInt32BE(1);
      if (length > MAX_FRAME_PAYLOAD) throw new FrameError(`frame payload of ${length} bytes exceeds ${MAX_FRAME_PAYLOAD}`);
      if (this.buffered < FRAME_HEADER_BYTES + length) break;
      this.skip(FRAME_HEADER_BYTES);
      frames.push({ type: type as FrameType, payload: this.take(length) });
    }
    return frames;
  }

  /** Call at end of stream: throws when a partial frame is left over. */
  end(): void {
    if (this.buffered > 0) throw new FrameError(`stream ended inside a frame (${this.buffered} bytes left over)`);
  }

  /** The first n buffered bytes, without consuming them (n ≤ buffered). */
  private peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first.length >= n) return first;
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    for (const chunk of this.chunks) {
      const count = Math.min(n - filled, chunk.length);
      chunk.copy(out, filled, 0, count);
      filled += count;
      if (filled === n) break;
    }
    return out;
  }

  private skip(n: number): void {
    this.take(n);
  }

  /** Consumes n buffered bytes (n ≤ buffered). */
  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0];
      const count = Math.min(n - filled, chunk.length);
      chunk.copy(out, filled, 0, count);
      filled += count;
      if (count === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(count);
    }
    return out;
  }
}
