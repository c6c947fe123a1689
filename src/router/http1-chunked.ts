// Finds where a chunked HTTP/1.1 body ends (RFC 9112 §7.1) without copying it: the router relays the bytes
// as they are and only needs to know the boundary. Strict on purpose: a chunk-size line or trailer the
// scanner does not fully understand is an error, never a guess, so the bytes it lets through end exactly
// where any conforming parser on the other side ends them.

export class ChunkedError extends Error {}

const enum State {
  /** Reading hex digits of a chunk size. */
  Size,
  /** After `;`: a chunk extension, up to CR. */
  Extension,
  /** Saw CR of the size line; LF must follow. */
  SizeLf,
  /** Inside chunk data (`remaining` bytes left). */
  Data,
  /** After chunk data: CR must follow. */
  DataCr,
  DataLf,
  /** At the start of a trailer line (or the final empty line). */
  TrailerStart,
  /** Inside a trailer field line, up to CR. */
  Trailer,
  TrailerLf,
  /** Saw CR of the final empty line; LF ends the body. */
  EndLf,
}

/** 2^53: sizes beyond it are refused (no real body is that large, and past it a double loses digits). */
const MAX_SIZE_DIGITS = 13;

const hexValue = (c: number): number => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1);

/** Visible ASCII, space, tab and obs-text: what an extension or trailer line may hold (no CR, LF, NUL or controls). */
const lineChar = (c: number): boolean => (c >= 0x20 && c !== 0x7f) || c === 0x09;

export class ChunkedScanner {
  private state = State.Size;
  private remaining = 0;
  private digits = 0;
  private lineBytes = 0;

  /** Whether the whole body has been seen. */
  done = false;

  /** Limit on one size or trailer line, so a peer cannot make a line of unbounded length. */
  constructor(private readonly maxLine = 16 * 1024) {}

  /**
   * Scans `buf` from `from`; returns the index just past the body's end, or -1 when all of `buf` belongs to
   * the body and more is needed. Throws ChunkedError on malformed framing.
   */
  scan(buf: Buffer, from = 0): number {
    let i = from;
    const n = buf.length;
    while (i < n) {
      switch (this.state) {
        case State.Data: {
          const take = Math.min(this.remaining, n - i);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = State.DataCr;
          continue;
        }
        case State.Size: {
          const c = buf[i]!;
          const v = hexValue(c);
          if (v >= 0) {
            if (++this.digits > MAX_SIZE_DIGITS) throw new ChunkedError('chunk size too large');
            this.remaining = this.remaining * 16 + v;
          } else if (this.digits === 0) throw new ChunkedError('chunk size expected');
          else if (c === 0x0d) this.state = State.SizeLf;
          else if (c === 0x3b) {
            this.state = State.Extension;
            this.lineBytes = 0;
          } else throw new ChunkedError('invalid chunk size line');
          break;
        }
        case State.Extension: {
          const c = buf[i]!;
          if (c === 0x0d) this.state = State.SizeLf;
          else if (!lineChar(c) || ++this.lineBytes > this.maxLine) throw new ChunkedError('invalid chunk extension');
          break;
        }
        case State.SizeLf:
          if (buf[i] !== 0x0a) throw new ChunkedError('chunk size line not ended by CRLF');
          this.digits = 0;
          if (this.remaining === 0) this.state = State.TrailerStart;
          else this.state = State.Data;
          break;
        case State.DataCr:
          if (buf[i] !== 0x0d) throw new ChunkedError('chunk data not followed by CRLF');
          this.state = State.DataLf;
          break;
        case State.DataLf:
          if (buf[i] !== 0x0a) throw new ChunkedError('chunk data not followed by CRLF');
          this.state = State.Size;
          break;
        case State.TrailerStart: {
          const c = buf[i]!;
          if (c === 0x0d) this.state = State.EndLf;
          // A trailer line starting with whitespace would be obs-fold.
          else if (c === 0x20 || c === 0x09 || !lineChar(c)) throw new ChunkedError('invalid trailer');
          else {
            this.state = State.Trailer;
            this.lineBytes = 1;
          }
          break;
        }
        case State.Trailer: {
          const c = buf[i]!;
          if (c === 0x0d) this.state = State.TrailerLf;
          else if (!lineChar(c) || ++this.lineBytes > this.maxLine) throw new ChunkedError('invalid trailer');
          break;
        }
        case State.TrailerLf:
          if (buf[i] !== 0x0a) throw new ChunkedError('trailer not ended by CRLF');
          this.state = State.TrailerStart;
          break;
        case State.EndLf:
          if (buf[i] !== 0x0a) throw new ChunkedError('chunked body not ended by CRLF');
          this.done = true;
          return i + 1;
      }
      i++;
    }
    return -1;
  }
}
