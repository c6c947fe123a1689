// Cuts a byte stream into lines: a partial last line waits for the next chunk, an over-long line is cut into pieces.
import { splitAtCharBoundary } from './log-entry.js';

/** A line longer than this (bytes, without its newline) is stored as several entries, so one entry stays bounded. */
export const MAX_LINE_BYTES = 64 * 1024;

export class LineSplitter {
  private pending: Buffer | undefined;

  constructor(private readonly maxLine = MAX_LINE_BYTES) {}

  /** The complete lines `chunk` finishes (newline and a trailing CR removed), in order. */
  push(chunk: Buffer): Buffer[] {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
      const end = nl > start && buf[nl - 1] === 13 ? nl - 1 : nl;
      this.cut(buf.subarray(start, end), lines, true);
      start = nl + 1;
    }
    // The unfinished tail: emit whole max-size pieces now so memory held per stream stays bounded.
    const rest = this.cut(buf.subarray(start), lines, false);
    // Copy: `rest` may be a view into a large chunk the caller reuses or we would otherwise keep alive.
    if (rest.length > 0) this.pending = Buffer.from(rest);
    return lines;
  }

  /** The held partial line, if any, as a line of its own. */
  flush(): Buffer[] {
    const rest = this.pending;
    this.pending = undefined;
    return rest && rest.length > 0 ? [rest] : [];
  }

  get hasPending(): boolean {
    return this.pending !== undefined;
  }

  /** Pushes max-size pieces of `line` to `out`; the last piece too when `complete`, else returns it. */
  private cut(line: Buffer, out: Buffer[], complete: boolean): Buffer {
    let rest = line;
    while (rest.length > this.maxLine) {
      // Cut on a character boundary so splitting never turns valid UTF-8 into replacement characters.
      let piece = splitAtCharBoundary(rest.subarray(0, this.maxLine)).whole;
      if (piece.length === 0) piece = rest.subarray(0, this.maxLine);
      out.push(piece);
      rest = rest.subarray(piece.length);
    }
    if (!complete) return rest;
    out.push(rest);
    return Buffer.alloc(0);
  }
}
