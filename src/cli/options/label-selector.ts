// `-l key=value[,key=value]`: a malformed selector is a usage error naming it.
import { UsageError } from 'clipanion';
import { parseLabelSelector, SELECTOR_RULE } from '../../resources/label-selector.js';

export function parseSelector(sel: string): Record<string, string> {
  const parsed = parseLabelSelector(sel);
  if (!parsed) throw new UsageError(`-l ${SELECTOR_RULE}, got "${sel}"`);
  return parsed;
}
