// Joins two byte streams both ways (WebSocket upgrades, raw port listeners), keeping half-close
// and back-pressure, and tearing both down when either side fails.
import type { Duplex } from 'node:stream';

export function splice(a: Duplex, b: Duplex, onData: () => void): void {
  a.pipe(b);
  b.pipe(a);
  // Listeners added after pipe() in the same tick see every chunk and do not change flow control.
  a.on('data', onData);
  b.on('data', onData);
  const link = (from: Duplex, to: Duplex): void => {
    from.on('error', () => to.destroy());
    // A clean end already ended `to` through pipe(); an abrupt close must not leave `to` hanging.
    from.on('close', () => {
      if (!from.readableEnded) to.destroy();
    });
  };
  link(a, b);
  link(b, a);
}
