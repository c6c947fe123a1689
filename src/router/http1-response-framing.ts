// Finds where each guest response ends (RFC 9112 §6.3) so the fast path can relay the bytes as they come and
// still know when the next request may go. Only the head is read into a string; body bytes pass through as
// slices of what arrived. As node:http's slow path does, the head loses its hop-by-hop fields and says
// HTTP/1.1 (the guest's version, Keep-Alive or Connection tokens are about its hop, not the client's), and a
// body the guest ends by closing is chunked for the client, whose connection stays open.
import { ChunkedScanner, ChunkedError } from './http1-chunked.js';

export class ResponseError extends Error {}

/** A guest response head longer than this is refused (node's client limit is 16 KiB; a bit of room). */
const MAX_HEAD_BYTES = 64 * 1024;

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [^\x00-\x08\x0a-\x1f\x7f]*)?$/;
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*$/;
const DIGITS = /^\d{1,15}$/;

/** Response fields that only describe the guest's hop; Transfer-Encoding stays, the body is relayed as framed. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'upgrade']);

const CRLF = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

const enum Body {
  Head,
  None,
  Length,
  Chunked,
  UntilClose,
}

export class ResponseFramer {
  private phase = Body.Head;
  private held: Buffer | undefined;
  private remaining = 0;
  private chunked: ChunkedScanner | undefined;

  /** The response ends only when the guest closes (then call finish()). */
  untilClose = false;
  /** The upstream may carry another exchange after this response (the guest neither closes nor said it will). */
  reusable = true;
  /** Some response head (or an interim 1xx) was relayed: a failure now can no longer become a 502 page. */
  started = false;

  /** `headRequest`: the request was HEAD, so the response has no body whatever its headers say (RFC 9110 §9.3.2). */
  constructor(private readonly headRequest: boolean) {}

  /**
   * Feeds guest bytes; `write` receives what goes to the client, in order. Returns the index in `chunk` just
   * past the end of the response, or -1 when all of it was the response's and more is to come. Throws
   * ResponseError when the guest's bytes are not a response the framer can delimit.
   */
  feed(chunk: Buffer, write: (b: Buffer) => void): number {
    let at = 0;
    while (at < chunk.length || this.phase === Body.None) {
      switch (this.phase) {
        case Body.Head: {
          const consumed = this.readHead(chunk, at, write);
          if (consumed < 0) return -1;
          at = consumed;
          break;
        }
        case Body.None:
          return at;
        case Body.Length: {
          const take = Math.min(this.remaining, chunk.length - at);
          write(at === 0 && take === chunk.length ? chunk : chunk.subarray(at, at + take));
          this.remaining -= take;
          at += take;
          if (this.remaining === 0) return at;
          break;
        }
        case Body.Chunked: {
          let end: number;
          try {
            end = this.chunked!.scan(chunk, at);
          } catch (err) {
            throw new ResponseError(`guest sent a malformed chunked body: ${(err as ChunkedError).message}`);
          }
          const stop = end < 0 ? chunk.length : end;
          write(at === 0 && stop === chunk.length ? chunk : chunk.subarray(at, stop));
          return end;
        }
        case Body.UntilClose: {
          const rest = at === 0 ? chunk : chunk.subarray(at);
          write(Buffer.from(`${rest.length.toString(16)}\r\n`, 'latin1'));
          write(rest);
          write(CRLF);
          return -1;
        }
      }
    }
    return -1;
  }

  /** The bytes that end a close-delimited response for the client, once the guest closed. */
  finish(): Buffer {
    return LAST_CHUNK;
  }

  /** Consumes head bytes from `at`; returns the index after the head, or -1 when the head is not complete yet. */
  private readHead(chunk: Buffer, at: number, write: (b: Buffer) => void): number {
    let buf: Buffer;
    let base: number;
    if (this.held) {
      buf = Buffer.concat([this.held, at === 0 ? chunk : chunk.subarray(at)]);
      base = this.held.length;
    } else {
      buf = at === 0 ? chunk : chunk.subarray(at);
      base = 0;
    }
    const end = buf.indexOf('\r\n\r\n', Math.max(0, base - 3));
    if (end < 0) {
      if (buf.length > MAX_HEAD_BYTES) throw new ResponseError('guest response head too large');
      this.held = Buffer.from(buf); // a copy: the chunk's memory may be reused
      return -1;
    }
    this.held = undefined;
    const headLength = end + 4;
    write(this.parseHead(buf.toString('latin1', 0, end)));
    this.started = true;
    return at + headLength - base;
  }

  /** Sets the body framing from the head and returns the head bytes for the client. */
  private parseHead(text: string): Buffer {
    const lines = text.split('\r\n');
    const status = STATUS_LINE.exec(lines[0]!);
    if (!status) throw new ResponseError('guest sent a malformed status line');
    const http10 = status[1] === '0';
    const code = Number(status[2]);
    let declared: Set<string> | undefined;
    let lengths: string | undefined;
    let encoding: string | undefined;
    let keepAlive = false;
    let guestClose = false;
    const names: string[] = new Array(lines.length);
    for (let i = 1; i < lines.length; i++) {
      const m = HEADER_LINE.exec(lines[i]!);
      if (!m) throw new ResponseError('guest sent a malformed header line');
      const name = m[1]!.toLowerCase();
      const value = m[2]!;
      names[i] = name;
      if (name === 'content-length') {
        if (!DIGITS.test(value) || (lengths !== undefined && lengths !== value)) throw new ResponseError('guest sent an invalid Content-Length');
        lengths = value;
      } else if (name === 'transfer-encoding') encoding = encoding === undefined ? value : `${encoding}, ${value}`;
      else if (name === 'connection') {
        for (const token of value.toLowerCase().split(',')) {
          const t = token.trim();
          if (t === 'close') guestClose = true;
          else if (t === 'keep-alive') keepAlive = true;
          else if (t) (declared ??= new Set()).add(t);
        }
      }
    }
    if (code === 101) throw new ResponseError('guest switched protocols on a request that asked for no upgrade');
    const interim = code >= 100 && code < 200;
    if (interim) this.phase = Body.Head;
    else if (this.headRequest || code === 204 || code === 304) this.phase = Body.None;
    else if (encoding !== undefined) {
      const codings = encoding.toLowerCase().split(',');
      if (codings[codings.length - 1]!.trim() === 'chunked') {
        this.phase = Body.Chunked;
        this.chunked = new ChunkedScanner();
      } else this.phase = Body.UntilClose;
    } else if (lengths !== undefined) {
      this.remaining = Number(lengths);
      this.phase = this.remaining > 0 ? Body.Length : Body.None;
    } else this.phase = Body.UntilClose;
    this.untilClose = this.phase === Body.UntilClose;
    // An HTTP/1.0 guest closes unless it says otherwise; one that says close will.
    if (!interim) this.reusable = !(this.untilClose || guestClose || (http10 && !keepAlive));

    let out = http10 ? 'HTTP/1.1' + lines[0]!.slice(8) : lines[0]!;
    for (let i = 1; i < lines.length; i++) if (!HOP_BY_HOP.has(names[i]!) && !declared?.has(names[i]!)) out += '\r\n' + lines[i];
    out += this.untilClose ? '\r\nTransfer-Encoding: chunked\r\n\r\n' : '\r\n\r\n';
    return Buffer.from(out, 'latin1');
  }
}
