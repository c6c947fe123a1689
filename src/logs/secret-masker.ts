// Masks known secret values in a stream of output, as CI systems mask registered secrets: each occurrence
// becomes `***`, also when a value arrives split across writes. All values are searched at once with an
// Aho-Corasick automaton (time linear in the output, whatever the number of values); the bytes that could
// still be the start of a value are held back until the next chunk shows whether they are one.
//
// What is masked: each line of a value (a multi-line value, such as a PEM key, line by line), without
// surrounding whitespace, when at least MIN_MASKED_BYTES long: shorter ones (`1`, `yes`) would mask
// ordinary output everywhere. No pattern contains a line break, so a newline always releases what is held.

export const MASK = '***';
/** Values (and lines of values) shorter than this many bytes are not masked. */
export const MIN_MASKED_BYTES = 4;

const MASK_BYTES = Buffer.from(MASK);
const EMPTY = Buffer.alloc(0);
/** `oneByte` markers: the node has no child, or more than one (then `multi` holds them). */
const NO_CHILD = -1;
const MANY_CHILDREN = -2;

/** The byte strings to mask, compiled: a trie with failure links, dense at the root and sparse below it. */
export class SecretPatterns {
  /** Next state from the root for each byte (0: stays at the root). */
  readonly rootNext = new Int32Array(256);
  /** Length of the longest value that ends in each state (0: none). */
  readonly matchLen: Int32Array;
  /** Bytes matched so far in each state: what must be held back while in it. */
  readonly depth: Int32Array;
  private readonly fail: Int32Array;
  private readonly oneByte: Int16Array;
  private readonly oneNext: Int32Array;
  private readonly multi: (Map<number, number> | undefined)[];

  /** The patterns for `values`, or undefined when none of them is long enough to mask. */
  static of(values: Iterable<string>): SecretPatterns | undefined {
    const patterns = new Set<string>();
    for (const value of values) {
      for (const line of value.split(/\r\n|\n|\r/)) {
        const p = line.trim();
        if (Buffer.byteLength(p) >= MIN_MASKED_BYTES) patterns.add(p);
      }
    }
    return patterns.size > 0 ? new SecretPatterns([...patterns].map((p) => Buffer.from(p))) : undefined;
  }

  private constructor(patterns: Buffer[]) {
    const children: Map<number, number>[] = [new Map()];
    const depth = [0];
    const ends = [0];
    for (const p of patterns) {
      let node = 0;
      for (const byte of p) {
        let next = children[node]!.get(byte);
        if (next === undefined) {
          next = children.length;
          children.push(new Map());
          depth.push(depth[node]! + 1);
          ends.push(0);
          children[node]!.set(byte, next);
        }
        node = next;
      }
      ends[node] = p.length;
    }
    const n = children.length;
    this.fail = new Int32Array(n);
    this.matchLen = new Int32Array(n);
    this.depth = Int32Array.from(depth);
    this.oneByte = new Int16Array(n).fill(NO_CHILD);
    this.oneNext = new Int32Array(n);
    this.multi = new Array(n);
    for (const [byte, child] of children[0]!) this.rootNext[byte] = child;
    // Breadth first, so a node's failure target (a shallower node) is complete before the node.
    const queue = [0];
    for (let q = 0; q < queue.length; q++) {
      const node = queue[q]!;
      const kids = children[node]!;
      if (kids.size === 1) {
        const [[byte, child]] = kids;
        this.oneByte[node] = byte;
        this.oneNext[node] = child;
      } else if (kids.size > 1) {
        this.oneByte[node] = MANY_CHILDREN;
        this.multi[node] = kids;
      }
      for (const [byte, child] of kids) {
        this.fail[child] = node === 0 ? 0 : this.step(this.fail[node]!, byte);
        // Its own value is the longest that ends here; else the longest ending at its failure target.
        this.matchLen[child] = ends[child] || this.matchLen[this.fail[child]!]!;
        queue.push(child);
      }
    }
  }

  /** The state after `byte` in `state`. */
  step(state: number, byte: number): number {
    for (let s = state; ; s = this.fail[s]!) {
      if (s === 0) return this.rootNext[byte]!;
      const one = this.oneByte[s]!;
      if (one === byte) return this.oneNext[s]!;
      if (one === MANY_CHILDREN) {
        const next = this.multi[s]!.get(byte);
        if (next !== undefined) return next;
      }
    }
  }
}

interface Masked {
  /** Absolute stream offsets, end exclusive. */
  start: number;
  end: number;
  /** Its `***` has been written (the range reaches past what was emitted). */
  shown: boolean;
}

/** Masks one stream (one producer's stdout, say). `patterns` is asked on every chunk, so a changed set of values applies from then on. */
export class SecretMasker {
  private patterns: SecretPatterns | undefined;
  private state = 0;
  /** Bytes received but not yet emitted: they may begin a value. */
  private held: Buffer = EMPTY;
  /** Stream offset of `held[0]` (everything before it was emitted). */
  private emitted = 0;
  /** Found occurrences not yet fully emitted, in order, not overlapping. */
  private ranges: Masked[] = [];

  constructor(private readonly source: () => SecretPatterns | undefined) {}

  /** The output `chunk` releases, masked; a possible start of a value stays held for the next chunk. */
  push(chunk: Buffer): Buffer {
    const current = this.source();
    const data = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    let from = this.held.length;
    if (current !== this.patterns) {
      // The values changed (a secret was set or rotated): look at the held bytes again with the new ones.
      this.patterns = current;
      this.state = 0;
      from = 0;
    }
    const p = this.patterns;
    if (!p) return this.emit(data, data.length);
    const root = p.rootNext;
    const matchLen = p.matchLen;
    const base = this.emitted;
    const n = data.length;
    let s = this.state;
    for (let i = from; i < n; i++) {
      if (s === 0) {
        // Most output matches nothing: skip to the next byte that can start a value.
        while (i < n && root[data[i]!] === 0) i++;
        if (i === n) break;
      }
      s = p.step(s, data[i]!);
      const len = matchLen[s]!;
      if (len !== 0) this.mark(base + i + 1 - len, base + i + 1);
    }
    this.state = s;
    return this.emit(data, n - p.depth[s]!);
  }

  /** The end of the stream: everything held, masked (a value cut off by the end is not one). */
  flush(): Buffer {
    this.state = 0;
    return this.emit(this.held, this.held.length);
  }

  /**
   * The end of a stream cut short (a read stopped at maxBytes): the held bytes may begin a value whose rest
   * never came, so they are dropped rather than shown. Returns how many were dropped.
   */
  dropHeld(): number {
    const dropped = this.held.length;
    this.state = 0;
    this.emitted += dropped;
    this.held = EMPTY;
    this.ranges = [];
    return dropped;
  }

  /** Whether bytes are held back, waiting for the next chunk. */
  get hasPending(): boolean {
    return this.held.length > 0;
  }

  /** Records an occurrence at [start, end), merged with the ones it overlaps (`***` once for the lot). */
  private mark(start: number, end: number): void {
    const rs = this.ranges;
    let after = rs.length;
    while (after > 0 && rs[after - 1]!.start >= end) after--;
    let first = after;
    let shown = false;
    while (first > 0 && rs[first - 1]!.end > start) {
      first--;
      start = Math.min(start, rs[first]!.start);
      end = Math.max(end, rs[first]!.end);
      shown ||= rs[first]!.shown;
    }
    rs.splice(first, after - first, { start, end, shown });
  }

  /** Emits `data[0, upto)` (data starts at `this.emitted`) with occurrences masked, and holds the rest. */
  private emit(data: Buffer, upto: number): Buffer {
    const base = this.emitted;
    const end = base + upto;
    const parts: Buffer[] = [];
    let at = base;
    while (this.ranges.length > 0 && this.ranges[0]!.start < end) {
      const r = this.ranges[0]!;
      if (r.start > at) parts.push(data.subarray(at - base, r.start - base));
      if (!r.shown) parts.push(MASK_BYTES);
      r.shown = true;
      at = Math.max(at, Math.min(r.end, end));
      if (r.end > end) break;
      this.ranges.shift();
    }
    if (at < end) parts.push(data.subarray(at - base, upto));
    // Copied: `data` may be the caller's chunk, which it is free to reuse.
    this.held = upto < data.length ? Buffer.from(data.subarray(upto)) : EMPTY;
    this.emitted = end;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}
