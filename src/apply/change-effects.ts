// When an App change takes effect: some fields apply live, some at the next boot of its machines, and
// some need the running instance restarted now (it would otherwise keep serving the old definition).
import type { AppSpec } from '../resources/app.js';

export type ChangeEffect = 'live' | 'next boot' | 'restart';

// A network change restarts: a narrowed policy must not wait for the running machine's next boot.
const RESTART: (keyof AppSpec)[] = ['image', 'kit', 'command', 'expose', 'release', 'network'];
const NEXT_BOOT: (keyof AppSpec)[] = ['env', 'secrets', 'resources'];

/** The changed top-level fields of an App spec and the strongest effect among them. */
export function appChangeEffect(before: AppSpec, after: AppSpec): { effect: ChangeEffect; fields: string[] } | undefined {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]) as Set<keyof AppSpec>;
  const fields = [...keys].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])).sort();
  if (fields.length === 0) return undefined;
  const effect: ChangeEffect = fields.some((f) => RESTART.includes(f)) ? 'restart' : fields.some((f) => NEXT_BOOT.includes(f)) ? 'next boot' : 'live';
  return { effect, fields };
}

/** Whether a change of these fields should restart the app's instance now. */
export const needsRestart = (before: AppSpec, after: AppSpec) => appChangeEffect(before, after)?.effect === 'restart';
