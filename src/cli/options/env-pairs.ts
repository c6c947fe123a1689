// `--env K=V` flags into an environment object; a malformed pair is a usage error naming it.
import { UsageError } from 'clipanion';
import { envObject } from './env-object.js';

export function parseEnvPairs(pairs: string[]): Record<string, string> {
  // clipanion reads a batch such as `-ie A=1` as two booleans: --env then holds `true`, not a pair.
  if (pairs.some((p) => typeof p !== 'string')) throw new UsageError('-e/--env takes KEY=VALUE as the next word: write -i -e A=1, not -ie A=1');
  const parsed = envObject(pairs);
  if ('bad' in parsed) throw new UsageError(`--env expects KEY=VALUE, got "${parsed.bad}"`);
  return parsed.env;
}
