// Reads an HTTP/1.1 request head by hand for the router's fast path (fast-path.ts). It accepts only the plain,
// unambiguous form: anything unusual (other versions, obs-fold, bare CR or LF, odd characters, conflicting or
// repeated framing headers, Upgrade, Expect) is reported as `handoff`, and node:http, which keeps every
// existing behaviour for those, gets the connection. Deciding less here is what keeps request smuggling out.
import { hasBadHeadChar, isToken } from './http1-syntax.js';

/** Heads longer than this go to node:http, which applies its own limit (431). */
export const MAX_FAST_HEAD_BYTES = 8 * 1024;
/** More header lines than this go to node:http. */
const MAX_FAST_HEADERS = 100;

const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/1\.1$/;
const isOws = (c: number): boolean => c === 0x20 || c === 0x09;
const DIGITS = /^\d{1,15}$/;

export type BodyFraming = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' };

export interface RequestHead {
  method: string;
  target: string;
  /** Flat [name, value, …] list in the client's order and case, as node's rawHeaders. */
  rawHeaders: string[];
  /** Index just past the head's final CRLF CRLF. */
  end: number;
  body: BodyFraming;
  /** The client asked to close after this exchange (Connection: close). */
  close: boolean;
  /** The single Host and X-Aegis-App values, when sent (pickTarget's inputs). */
  host: string | undefined;
  appHeader: string | undefined;
  /** The last Accept value, for the router's own pages (HTML or text). */
  accept: string | undefined;
}

export type HeadResult =
  | { kind: 'incomplete' }
  /** A complete head (or one too long to wait for) that node:http must judge. */
  | { kind: 'handoff'; why: string }
  | { kind: 'fast'; head: RequestHead };

const INCOMPLETE: HeadResult = { kind: 'incomplete' };
const handoff = (why: string): HeadResult => ({ kind: 'handoff', why });

/** Parses the head at the start of `buf`. */
export function parseRequestHead(buf: Buffer): HeadResult {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) {
    if (buf.length > MAX_FAST_HEAD_BYTES) return handoff('head too large');
    // A bare LF may be a line end to some parser: such a head may never show CRLF CRLF, so node judges it now.
    for (let lf = buf.indexOf(10); lf >= 0; lf = buf.indexOf(10, lf + 1)) if (lf === 0 || buf[lf - 1] !== 13) return handoff('bare LF');
    return INCOMPLETE;
  }
  if (end + 4 > MAX_FAST_HEAD_BYTES) return handoff('head too large');
  const text = buf.toString('latin1', 0, end);
  if (hasBadHeadChar(text)) return handoff('control character or bare CR/LF');
  const lines = text.split('\r\n');
  const line = REQUEST_LINE.exec(lines[0]!);
  if (!line) return handoff('request line');
  const method = line[1]!;
  if (method === 'CONNECT') return handoff('CONNECT');
  if (lines.length - 1 > MAX_FAST_HEADERS) return handoff('many headers');

  const rawHeaders: string[] = [];
  let host: string | undefined;
  let hosts = 0;
  let appHeader: string | undefined;
  let appHeaders = 0;
  let length: string | undefined;
  let lengths = 0;
  let encodings = 0;
  let chunked = false;
  let close = false;
  let accept: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    const colon = l.indexOf(':');
    if (colon < 0 || !isToken(l, 0, colon)) return handoff('header line');
    const name = l.slice(0, colon);
    let from = colon + 1;
    let to = l.length;
    while (from < to && isOws(l.charCodeAt(from))) from++;
    while (to > from && isOws(l.charCodeAt(to - 1))) to--;
    const value = l.slice(from, to);
    rawHeaders.push(name, value);
    // Only the names that matter here are compared; lower-casing every name would cost on every request.
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === 'host') {
          host = value;
          hosts++;
        }
        break;
      case 6: {
        const lower = name.toLowerCase();
        if (lower === 'expect') return handoff('Expect');
        if (lower === 'accept') accept = value;
        break;
      }
      case 7:
        if (name.toLowerCase() === 'upgrade') return handoff('Upgrade');
        break;
      case 10:
        if (name.toLowerCase() === 'connection') {
          for (const token of value.toLowerCase().split(',')) {
            const t = token.trim();
            if (t === 'close') close = true;
            else if (t === 'upgrade') return handoff('Connection: upgrade');
          }
        }
        break;
      case 11:
        if (name.toLowerCase() === 'x-aegis-app') {
          appHeader = value;
          appHeaders++;
        }
        break;
      case 14:
        if (name.toLowerCase() === 'content-length') {
          length = value;
          lengths++;
        }
        break;
      case 17:
        if (name.toLowerCase() === 'transfer-encoding') {
          encodings++;
          chunked = value.toLowerCase() === 'chunked';
        }
        break;
    }
  }
  if (hosts > 1 || appHeaders > 1) return handoff('repeated Host or X-Aegis-App');
  let body: BodyFraming = { kind: 'none' };
  if (encodings > 0) {
    // Transfer-Encoding other than exactly one `chunked`, or beside Content-Length, is node's to refuse.
    if (encodings > 1 || !chunked || lengths > 0) return handoff('Transfer-Encoding');
    body = { kind: 'chunked' };
  } else if (lengths > 0) {
    if (lengths > 1 || !DIGITS.test(length!)) return handoff('Content-Length');
    const n = Number(length);
    if (n > 0) body = { kind: 'length', length: n };
  }
  return { kind: 'fast', head: { method, target: line[2]!, rawHeaders, end: end + 4, body, close, host, appHeader, accept } };
}
