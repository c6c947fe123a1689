// `-l key=value[,key=value]` into a label map; a malformed selector is a usage error naming it.
import { UsageError } from 'clipanion';

export function parseSelector(sel: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of sel.split(',').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`-l expects key=value[,key=value], got "${sel}"`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}
