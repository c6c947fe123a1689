// Validation problems before they get a source location: zod issues flattened into field paths and messages.
import { z } from 'zod';
import { invalid, type AegisError, type FieldIssue } from '../errors/codes.js';
import { clipInput, quoteInput } from '../util/quote-input.js';

export type PathSegment = string | number;

/** A problem at a path inside one document; `onKey` marks problems with the key itself (unknown field, bad key). */
export interface RawIssue {
  path: PathSegment[];
  message: string;
  onKey?: boolean;
}

type ZodIssue = z.core.$ZodIssue;

const seg = (p: PropertyKey): PathSegment => (typeof p === 'number' ? p : String(p));

/** `['spec', 'expose', 0]` → `spec.expose.0`. */
export const dottedPath = (path: readonly PathSegment[]): string => path.join('.');

/** Flattens zod issues into RawIssues with paths below `prefix`: one per unknown key, unions reduced to the branch that fits. */
export function fromZodIssues(issues: readonly ZodIssue[], prefix: readonly PathSegment[] = []): RawIssue[] {
  const out: RawIssue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path.map(seg)];
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) out.push({ path: [...path, key], message: `unknown field ${quoteInput(key)}`, onKey: true });
        break;
      case 'invalid_key': {
        const why = issue.issues.map((i) => i.message).join('; ');
        out.push({ path, message: `invalid key ${quoteInput(String(path.at(-1)))}: ${why}`, onKey: true });
        break;
      }
      case 'invalid_union': {
        // A branch whose root type matched is what the user meant; report its problems rather than "Invalid input".
        const fitting = issue.errors.filter((branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0));
        if (fitting.length === 1) out.push(...fromZodIssues(fitting[0], path));
        else out.push({ path, message: issue.message });
        break;
      }
      case 'invalid_type':
        // Zod says "expected string, received undefined"; say which field is missing instead.
        if (/received undefined$/.test(issue.message) && path.length > 0) {
          out.push({ path, message: `required field ${quoteInput(String(path.at(-1)))} is missing` });
        } else out.push({ path, message: issue.message });
        break;
      default:
        out.push({ path, message: issue.message });
    }
  }
  return out;
}

/** A RawIssue with its location; a huge key in its path is clipped (the path is echoed in one-line errors). */
export function toFieldIssue(raw: RawIssue, location?: string): FieldIssue {
  const path = dottedPath(raw.path.map((seg) => (typeof seg === 'string' ? clipInput(seg) : seg)));
  return location === undefined ? { path, message: raw.message } : { location, path, message: raw.message };
}

/** One line for a list of problems: the first one in full, then how many more. */
export function summarize(subject: string, issues: readonly FieldIssue[]): string {
  const first = issues[0];
  const head = first ? `${first.path ? `${first.path}: ` : ''}${first.message}` : 'invalid';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  return `${subject}: ${head}${more}`;
}

/** Throws one AEGIS_INVALID carrying every issue, when there are any. */
export function throwIfIssues(subject: string, raw: readonly RawIssue[]): void {
  if (raw.length === 0) return;
  const issues = raw.map((r) => toFieldIssue(r));
  throw invalid(summarize(subject, issues), issues);
}

/** Renders one line per issue: `file:line:col: spec.expose.0: message` (location and path when known). */
export function formatIssues(source: AegisError | readonly FieldIssue[]): string {
  const issues = Array.isArray(source) ? (source as readonly FieldIssue[]) : (source as AegisError).issues;
  return issues.map((i) => [i.location, i.path, i.message].filter((part) => part !== undefined && part !== '').join(': ')).join('\n');
}
