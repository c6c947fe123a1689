// `--env K=V` flags into an environment object; a malformed pair is a usage error naming it.
import { UsageError } from 'clipanion';
import { envObject } from './env-object.js';

export function parseEnvPairs(pairs: string[]): Record<string, string> {
  const parsed = envObject(pairs);
  if ('bad' in parsed) throw new UsageError(`--env expects KEY=VALUE, got "${parsed.bad}"`);
  return parsed.env;
}
