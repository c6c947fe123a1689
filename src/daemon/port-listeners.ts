// One stable loopback TCP listener per exposed port of each instance, kept across pause, stop and boot;
// a restarted daemon asks for the same host ports again.
import type { PortListeners } from '../reconciler/controllers/instance.js';
import type { Endpoint } from '../resources/instance.js';
import type { ConnectionLimiter } from '../router/connection-limiter.js';
import type { InstanceDirectory } from '../router/instance-directory.js';
import { listenPort, type PortListener } from '../router/port-listener.js';

export class DaemonPortListeners implements PortListeners {
  private readonly open = new Map<string, PortListener[]>();

  constructor(
    private readonly dir: () => InstanceDirectory,
    private readonly opts: { host: string; wakeTimeoutMs: number; limiter?: ConnectionLimiter; routerUrl: () => string | undefined },
  ) {}

  async listen(instance: string, ports: number[], previous: Endpoint[]): Promise<Endpoint[]> {
    await this.close(instance);
    const listeners: PortListener[] = [];
    const endpoints: Endpoint[] = [];
    for (const port of ports) {
      const target = { instance, app: instance, port };
      const wanted = previous.find((e) => e.port === port)?.hostPort ?? 0;
      // The old host port may be taken by now: then any free one.
      const { host, wakeTimeoutMs, limiter } = this.opts;
      const l = await listenPort(this.dir(), target, port, { host, port: wanted, wakeTimeoutMs, limiter }).catch(() =>
        listenPort(this.dir(), target, port, { host, port: 0, wakeTimeoutMs, limiter }),
      );
      listeners.push(l);
      const url = this.opts.routerUrl();
      endpoints.push({ port, hostPort: l.port, ...(url ? { url } : {}) });
    }
    this.open.set(instance, listeners);
    return endpoints;
  }

  async close(instance: string): Promise<void> {
    const listeners = this.open.get(instance) ?? [];
    this.open.delete(instance);
    await Promise.all(listeners.map((l) => l.close()));
  }
}
