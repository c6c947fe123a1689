// Polls the daemon until a condition holds: for commands that wait on a controller (publish, delete).
import { CliError } from '../cli-error.js';

/** `what` may be a function, read at the deadline, so the message can say what was last seen. */
export async function pollUntil<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string | (() => string), intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new CliError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
