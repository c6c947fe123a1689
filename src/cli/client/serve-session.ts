// The blocking half of serve mode (`aegis run --expose`, `aegis app serve`): print where it is served, then
// wait until Ctrl+C (which deletes the instance) or until the instance is deleted elsewhere.
import type { Writable } from 'node:stream';
import { AegisApiError } from '../../sdk/errors.js';
import type { Aegis } from '../../sdk/aegis.js';

const POLL_MS = 1_000;

export async function serveUntilInterrupted(aegis: Aegis, stdout: Writable, instanceId: string, heading: (routerUrl: string) => string): Promise<number> {
  const status = await aegis.status();
  // The daemon runs without a router when its port was taken: say so rather than print a dead URL.
  const first = status.router
    ? heading(status.router)
    : `Serving (the router is not listening, see $AEGIS_HOME/data/aegisd.log; aegis instance info ${instanceId} shows the instance's own ports)`;
  stdout.write(`${first}\nInstance: ${instanceId}\nPress Ctrl+C to stop\n`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) process.exit(130);
      stopping = true;
      clearInterval(timer);
      aegis.instances.delete(instanceId).then(
        () => resolve(0),
        () => resolve(0),
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    // Someone else deleting the instance (aegis app delete, the API) ends the session too.
    const timer = setInterval(() => {
      aegis.instances.get(instanceId).catch((err: unknown) => {
        if (err instanceof AegisApiError && err.status === 404) {
          clearInterval(timer);
          stdout.write('The instance was deleted.\n');
          resolve(0);
        }
      });
    }, POLL_MS);
  });
}
