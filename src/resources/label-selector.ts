// Label selectors, `key=value[,key=value]` → {key: value}: one reading for the API (?labels=) and the CLI (-l).
/** The selector as a map, or undefined when it is malformed (callers say so in their own error style). */
export function parseLabelSelector(sel: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const part of sel.split(',').filter(Boolean)) {
    const [k, v, extra] = part.split('=');
    if (!k?.trim() || v === undefined || extra !== undefined) return undefined;
    out[k.trim()] = v.trim();
  }
  return out;
}

export const SELECTOR_RULE = 'expected key=value[,key=value]';
