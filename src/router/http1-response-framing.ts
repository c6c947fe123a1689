// Finds where each guest response ends (RFC 9112 §6.3) so the fast path can relay the bytes as they come and
// still know when the next request may go. Only the head is read into a string; body bytes pass through as
// slices of what arrived, and a head with nothing to change goes out as its own bytes too, so the common
// response is one write of the chunk the guest sent. As node:http's slow path does, the head loses the
// guest's hop-by-hop fields and says HTTP/1.1, and a body the guest ends by closing is chunked for the
// client, whose connection stays open.
import { ChunkedScanner, ChunkedError } from './http1-chunked.js';
import { hasBadHeadChar, isToken } from './http1-syntax.js';

export class ResponseError extends Error {}

/** A guest response head longer than this is refused (node's client limit is 16 KiB; a bit of room). */
const MAX_HEAD_BYTES = 64 * 1024;
/**
 * `Keep-Alive: timeout=N` with N at most this passes untouched: it says no more than the router's own
 * keep-alive timeout (5 s), which is what node:http says on the slow path.
 */
const ROUTER_KEEP_ALIVE_S = 5;

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: |$)/;
const DIGITS = /^\d{1,15}$/;
const KEEP_ALIVE_VALUE = /^timeout=(\d+)$/i;

/** Response fields that only describe the guest's hop; Transfer-Encoding stays, the body is relayed as framed. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'upgrade']);
/** Lengths of the names above and of the framing fields: only names of these lengths are lower-cased and looked at. */
const WATCHED_LENGTHS = new Set([2, 7, 10, 14, 16, 17, 18, 19]);

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
  // A run of the current chunk to relay as it is, not written yet (so adjacent runs go out as one slice).
  private runStart = -1;
  private runEnd = 0;

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
    const end = this.consume(chunk, write);
    if (this.runStart >= 0) {
      write(this.runStart === 0 && this.runEnd === chunk.length ? chunk : chunk.subarray(this.runStart, this.runEnd));
      this.runStart = -1;
    }
    return end;
  }

  /** The bytes that end a close-delimited response for the client, once the guest closed. */
  finish(): Buffer {
    return LAST_CHUNK;
  }

  private consume(chunk: Buffer, write: (b: Buffer) => void): number {
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
          this.relay(at, at + take);
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
          this.relay(at, end < 0 ? chunk.length : end);
          return end;
        }
        case Body.UntilClose: {
          const rest = at === 0 ? chunk : chunk.subarray(at);
          this.emit(chunk, write, Buffer.from(`${rest.length.toString(16)}\r\n`, 'latin1'));
          write(rest);
          write(CRLF);
          return -1;
        }
      }
    }
    return -1;
  }

  /** Marks chunk[from, to) to be relayed as it is. */
  private relay(from: number, to: number): void {
    if (this.runStart >= 0 && this.runEnd === from) this.runEnd = to;
    else {
      this.runStart = from;
      this.runEnd = to;
    }
  }

  /** Writes bytes of the router's own, after any pending run of the chunk. */
  private emit(chunk: Buffer, write: (b: Buffer) => void, b: Buffer): void {
    if (this.runStart >= 0) {
      write(chunk.subarray(this.runStart, this.runEnd));
      this.runStart = -1;
    }
    write(b);
  }

  /** Consumes head bytes from `at`; returns the index after the head, or -1 when the head is not complete yet. */
  private readHead(chunk: Buffer, at: number, write: (b: Buffer) => void): number {
    const held = this.held;
    if (!held) {
      const end = chunk.indexOf('\r\n\r\n', at);
      if (end < 0) return this.hold(chunk.subarray(at));
      const rewritten = this.parseHead(chunk.toString('latin1', at, end));
      if (rewritten) this.emit(chunk, write, rewritten);
      else this.relay(at, end + 4);
      this.started = true;
      return end + 4;
    }
    // A head split across chunks: joined (a copy, but only of the head).
    const buf = Buffer.concat([held, at === 0 ? chunk : chunk.subarray(at)]);
    const end = buf.indexOf('\r\n\r\n', Math.max(0, held.length - 3));
    if (end < 0) return this.hold(buf);
    this.held = undefined;
    this.emit(chunk, write, this.parseHead(buf.toString('latin1', 0, end)) ?? buf.subarray(0, end + 4));
    this.started = true;
    return at + end + 4 - held.length;
  }

  private hold(partial: Buffer): number {
    if (partial.length > MAX_HEAD_BYTES) throw new ResponseError('guest response head too large');
    this.held = Buffer.from(partial); // a copy: the chunk's memory may be reused
    return -1;
  }

  /** Sets the body framing from the head; returns the head for the client, or undefined when the guest's bytes will do. */
  private parseHead(text: string): Buffer | undefined {
    if (hasBadHeadChar(text)) throw new ResponseError('guest sent a control character or a bare CR or LF in a response head');
    let lineEnd = text.indexOf('\r\n');
    if (lineEnd < 0) lineEnd = text.length;
    const status = STATUS_LINE.exec(text.slice(0, lineEnd));
    if (!status) throw new ResponseError('guest sent a malformed status line');
    const http10 = status[1] === '0';
    const code = Number(status[2]);
    let lengths: string | undefined;
    let encoding: string | undefined;
    let keepAlive = false;
    let guestClose = false;
    let declared: string[] | undefined;
    /** [start, end) of each line to drop, hop-by-hop ones. */
    let drop: number[] | undefined;
    let keepAliveLine = -1;
    let keepAliveTimeout = Infinity;
    let otherHop = false;
    for (let s = lineEnd + 2; s < text.length; ) {
      let e = text.indexOf('\r\n', s);
      if (e < 0) e = text.length;
      const colon = text.indexOf(':', s);
      if (colon <= s || colon > e) throw new ResponseError('guest sent a malformed header line');
      const nameLength = colon - s;
      if (WATCHED_LENGTHS.has(nameLength) || declared) {
        const name = text.slice(s, colon).toLowerCase();
        if (name === 'content-length') {
          const value = text.slice(colon + 1, e).trim();
          if (!DIGITS.test(value) || (lengths !== undefined && lengths !== value)) throw new ResponseError('guest sent an invalid Content-Length');
          lengths = value;
        } else if (name === 'transfer-encoding') {
          const value = text.slice(colon + 1, e).trim();
          encoding = encoding === undefined ? value : `${encoding}, ${value}`;
        } else if (HOP_BY_HOP.has(name) || declared?.includes(name)) {
          (drop ??= []).push(s, e);
          if (name === 'connection') {
            for (const token of text.slice(colon + 1, e).toLowerCase().split(',')) {
              const t = token.trim();
              if (t === 'close') guestClose = true;
              else if (t === 'keep-alive') keepAlive = true;
              else if (t) {
                otherHop = true;
                // Framing fields stay whatever Connection says: dropping them would change where the body ends.
                if (t !== 'content-length' && t !== 'transfer-encoding') (declared ??= []).push(t);
              }
            }
          } else if (name === 'keep-alive') {
            keepAliveLine = drop.length - 2;
            const m = KEEP_ALIVE_VALUE.exec(text.slice(colon + 1, e).trim());
            keepAliveTimeout = m ? Number(m[1]) : Infinity;
          } else otherHop = true;
        }
      }
      if (!isToken(text, s, colon)) throw new ResponseError('guest sent a malformed header name');
      s = e + 2;
    }
    // A Connection token may name a field that came before it: look again.
    if (declared) {
      drop = undefined;
      for (let s = lineEnd + 2; s < text.length; ) {
        let e = text.indexOf('\r\n', s);
        if (e < 0) e = text.length;
        const name = text.slice(s, text.indexOf(':', s)).toLowerCase();
        if (HOP_BY_HOP.has(name) || declared.includes(name)) (drop ??= []).push(s, e);
        s = e + 2;
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

    // `Connection: keep-alive` and a Keep-Alive timeout no longer than the router's say what the router would:
    // the head goes on as the guest sent it. Anything else hop-by-hop is dropped, as on the slow path.
    const plainKeepAlive = !guestClose && !otherHop && (keepAliveLine < 0 || keepAliveTimeout <= ROUTER_KEEP_ALIVE_S);
    if (!http10 && !this.untilClose && (drop === undefined || plainKeepAlive)) return undefined;
    let out = http10 ? 'HTTP/1.1' + text.slice(8, lineEnd) : text.slice(0, lineEnd);
    let from = lineEnd;
    if (drop) {
      for (let i = 0; i < drop.length; i += 2) {
        out += text.slice(from, drop[i]! - 2);
        from = drop[i + 1]!;
      }
    }
    out += text.slice(from);
    out += this.untilClose ? '\r\nTransfer-Encoding: chunked\r\n\r\n' : '\r\n\r\n';
    return Buffer.from(out, 'latin1');
  }
}
