// Mapping a field path inside a parsed document back to a line and column of the source text.
import { isAlias, isMap, isScalar, isSeq, type Document, type Node } from 'yaml';
import type { PathSegment } from './issues.js';
import type { JsonPositions } from './json-positions.js';

export interface LineColumn {
  line: number;
  col: number;
}

/** Finds the source offset of the node at `path`: the key itself when `onKey`, else the value. */
export interface SourceLocator {
  offset(path: readonly PathSegment[], onKey: boolean): number;
}

/** offset → 1-based line and column (columns count UTF-16 code units, like editors' "column" for most text). */
export function lineColumns(text: string): (offset: number) => LineColumn {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - starts[lo] + 1 };
  };
}

const start = (node: unknown): number | undefined => (node as Node | null)?.range?.[0];

/**
 * Walks the YAML node tree along `path`. When the path leads nowhere (a required field is missing) it points
 * at the deepest key that does exist, e.g. the `spec:` line for a missing `spec.image`.
 */
export function yamlLocator(doc: Document): SourceLocator {
  return {
    offset(path, onKey) {
      let node: unknown = doc.contents;
      let key: unknown;
      const fallback = () => start(key) ?? start(node) ?? start(doc.contents) ?? 0;
      for (const seg of path) {
        if (isAlias(node)) node = node.resolve(doc);
        if (isMap(node)) {
          const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
          if (!pair) return fallback();
          key = pair.key;
          node = pair.value;
        } else if (isSeq(node)) {
          const item = typeof seg === 'number' || /^\d+$/.test(seg) ? node.items[Number(seg)] : undefined;
          if (item === undefined) return fallback();
          key = undefined;
          node = item;
        } else {
          return fallback();
        }
      }
      if (onKey && key !== undefined) return start(key) ?? fallback();
      return start(node) ?? fallback();
    },
  };
}

/** The same for JSON, from the positions scanJson recorded. */
export function jsonLocator(positions: JsonPositions): SourceLocator {
  return {
    offset(full, onKey) {
      if (onKey) {
        const k = positions.keys.get(JSON.stringify(full));
        if (k !== undefined) return k;
      }
      // Walk up until something exists: a missing field points at its parent's key, or the parent value.
      for (let n = full.length; n >= 0; n--) {
        const prefix = JSON.stringify(full.slice(0, n));
        const at = n < full.length ? (positions.keys.get(prefix) ?? positions.values.get(prefix)) : positions.values.get(prefix);
        if (at !== undefined) return at;
      }
      return 0;
    },
  };
}
