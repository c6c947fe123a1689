// Opens the upstream stream with the router's own deadline on top of the directory's, and never leaks a
// stream that arrives after the client gave up or the deadline passed.
import type { Duplex } from 'node:stream';
import { WakeTimeoutError, type InstanceDirectory, type RouteTarget } from './instance-directory.js';

/** Retry-After the router suggests when its own deadline (not the directory's) expired. */
export const ROUTER_RETRY_AFTER_SECONDS = 2;

/** Rejects with the abort reason when the client goes away, WakeTimeoutError after `timeoutMs`. */
export function connectUpstream(
  dir: InstanceDirectory,
  target: RouteTarget,
  port: number,
  clientGone: AbortSignal,
  timeoutMs: number,
): Promise<Duplex> {
  const ac = new AbortController();
  return new Promise<Duplex>((resolve, reject) => {
    let settled = false;
    const finish = (err: unknown, stream?: Duplex): void => {
      if (settled) {
        stream?.destroy(); // nobody is waiting for it any more
        return;
      }
      settled = true;
      clearTimeout(timer);
      clientGone.removeEventListener('abort', onGone);
      if (stream) resolve(stream);
      else {
        ac.abort(err);
        reject(err);
      }
    };
    const onGone = (): void => finish(clientGone.reason ?? new Error('client went away'));
    const timer = setTimeout(
      () =>
        finish(
          new WakeTimeoutError(
            ROUTER_RETRY_AFTER_SECONDS,
            `app "${target.app}" (instance ${target.instance}) was not ready within ${Math.round(timeoutMs / 1000)} s`,
          ),
        ),
      timeoutMs,
    );
    if (clientGone.aborted) return onGone();
    clientGone.addEventListener('abort', onGone, { once: true });
    let pending: Promise<Duplex>;
    try {
      pending = dir.connect(target, port, ac.signal);
    } catch (err) {
      return finish(err);
    }
    pending.then(
      (stream) => finish(undefined, stream),
      (err: unknown) => finish(err instanceof Error ? err : new Error(String(err))),
    );
  });
}
