// An image's `Env` (`KEY=VALUE` lines) as an object: the base of a workload's environment.
import type { ResolvedImage } from './image-store.js';

export function imageEnv(image: ResolvedImage | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of image?.config.env ?? []) {
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}
