// Where each value and key of a JSON text starts, and where a JSON syntax error is; JSON.parse tells neither.
import type { PathSegment } from './issues.js';
import { MAX_DEPTH } from './plain-json.js';
import { quoteInput } from '../util/quote-input.js';

export interface JsonPositions {
  /** Offset of the value at a path, keyed by JSON.stringify(path). */
  values: Map<string, number>;
  /** Offset of the key (its opening quote) for object members, keyed like `values`. */
  keys: Map<string, number>;
}

export type JsonScan = { ok: true; positions: JsonPositions } | { ok: false; offset: number; message: string };

class JsonSyntaxError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

const pathKey = (path: readonly PathSegment[]) => JSON.stringify(path);

/**
 * Scans `text` as RFC 8259 JSON, recording positions. It only locates: values still come from JSON.parse.
 * Duplicate object keys are reported as errors, because JSON.parse would silently keep the last one, and so
 * is nesting deeper than a manifest may be: each value's path is recorded, so without that bound 20,000
 * nested brackets cost seconds and most of a gigabyte.
 */
export function scanJson(text: string): JsonScan {
  const positions: JsonPositions = { values: new Map(), keys: new Map() };
  let i = 0;

  const fail = (message: string, at = i): never => {
    throw new JsonSyntaxError(at, message);
  };
  const describe = (at: number) => (at >= text.length ? 'end of input' : `character ${JSON.stringify(text[at])}`);
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const expect = (ch: string) => {
    if (text[i] !== ch) fail(`expected ${JSON.stringify(ch)} but found ${describe(i)}`);
    i++;
  };

  const string = (): string => {
    const start = i;
    expect('"');
    while (i < text.length && text[i] !== '"') {
      const c = text.charCodeAt(i);
      if (c < 0x20) fail('control character in string (escape it)');
      if (text[i] === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('invalid \\u escape');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail('invalid escape in string');
      } else i++;
    }
    if (i >= text.length) fail('unterminated string', start);
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };

  const literal = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(`unexpected ${describe(i)}`);
  };

  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '' || m[0] === '-') fail(`unexpected ${describe(i)}`);
    i += m![0].length;
  };

  const value = (path: PathSegment[]): void => {
    ws();
    positions.values.set(pathKey(path), i);
    const c = text[i];
    if ((c === '{' || c === '[') && path.length >= MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH} levels`);
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      const seen = new Set<string>();
      for (;;) {
        ws();
        const keyAt = i;
        if (text[i] !== '"') fail(`expected a quoted key but found ${describe(i)}`);
        const key = string();
        if (seen.has(key)) fail(`duplicate key ${quoteInput(key)}`, keyAt);
        seen.add(key);
        positions.keys.set(pathKey([...path, key]), keyAt);
        ws();
        expect(':');
        value([...path, key]);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        fail(`expected "," or "}" but found ${describe(i)}`);
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value([...path, n]);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        fail(`expected "," or "]" but found ${describe(i)}`);
      }
    } else if (c === '"') string();
    else if (c === 't') literal('true');
    else if (c === 'f') literal('false');
    else if (c === 'n') literal('null');
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) number();
    else fail(`unexpected ${describe(i)}`);
  };

  try {
    if (text.charCodeAt(0) === 0xfeff) i = 1;
    value([]);
    ws();
    if (i < text.length) fail(`unexpected ${describe(i)} after the JSON value`);
    return { ok: true, positions };
  } catch (e) {
    if (e instanceof JsonSyntaxError) return { ok: false, offset: e.offset, message: e.message };
    throw e;
  }
}
