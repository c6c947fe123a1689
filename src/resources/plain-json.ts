// The plain-JSON boundary: documents hold only JSON values and no key that could reach a prototype.
import { FORBIDDEN_KEYS } from './names.js';
import type { PathSegment, RawIssue } from './issues.js';
import { quoteInput } from '../util/quote-input.js';

/** A JSON object: not null, not an array, and not a class instance (a YAML `!!binary` is a Uint8Array, `!!timestamp` a Date). */
export const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/** Deeper than any real manifest; stops a hostile document from exhausting the stack (or, in scanJson, memory). */
export const MAX_DEPTH = 64;

/**
 * Problems that zod cannot see (it drops a `__proto__` key rather than report it) or would let through into
 * fast-json-patch: forbidden keys, non-JSON values (dates, NaN, Infinity), cycles, absurd nesting.
 */
export function plainJsonIssues(value: unknown, path: PathSegment[] = []): RawIssue[] {
  const out: RawIssue[] = [];
  walk(value, path, new Set(), out);
  return out;
}

function walk(value: unknown, path: PathSegment[], stack: Set<object>, out: RawIssue[]): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) out.push({ path, message: `${value} is not a JSON number` });
    return;
  }
  if (typeof value !== 'object') {
    out.push({ path, message: `a ${typeof value} is not a JSON value` });
    return;
  }
  if (stack.has(value)) {
    out.push({ path, message: 'value refers to itself (recursive alias)' });
    return;
  }
  if (path.length >= MAX_DEPTH) {
    out.push({ path, message: `nested deeper than ${MAX_DEPTH} levels` });
    return;
  }
  stack.add(value);
  if (Array.isArray(value)) {
    value.forEach((item, i) => walk(item, [...path, i], stack, out));
  } else {
    if (!isPlainObject(value)) {
      out.push({ path, message: `a ${(value as object).constructor?.name ?? 'class instance'} is not a JSON value` });
    } else {
      // Reflect.ownKeys also sees an own `__proto__` property, which JSON.parse and yaml both create.
      for (const key of Reflect.ownKeys(value)) {
        if (typeof key === 'symbol') continue;
        if (FORBIDDEN_KEYS.has(key)) {
          out.push({ path: [...path, key], message: `key ${quoteInput(key)} is not allowed`, onKey: true });
          continue;
        }
        walk((value as Record<string, unknown>)[key], [...path, key], stack, out);
      }
    }
  }
  stack.delete(value);
}
