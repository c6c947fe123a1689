// `K=V` strings into an environment object, without the command parser (the quick exec path has none loaded).

/** The environment the pairs give, or the first pair that is not KEY=VALUE. */
export function envObject(pairs: string[]): { env: Record<string, string> } | { bad: string } {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return { bad: pair };
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return { env };
}
