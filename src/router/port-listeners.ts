// One stable loopback TCP listener per exposed port of each instance, kept across pause, stop and boot;
// a restarted daemon asks for the same host ports again.
import type { ConnectionLimiter } from './connection-limiter.js';
import type { InstanceDirectory } from './instance-directory.js';
import { listenPort, type PortListener } from './port-listener.js';

/** A guest port and the host port that reaches it. */
export interface PortEndpoint {
  port: number;
  hostPort: number;
}

/** Per-port listeners of instances (they live as long as the instance, across its machines). */
export interface PortListeners {
  /** Opens a listener per port, on the host port `previous` recorded for it when that is still free. */
  listen(instance: string, ports: number[], previous: { port: number; hostPort?: number }[]): Promise<PortEndpoint[]>;
  close(instance: string): Promise<void>;
}

export interface InstancePortListenersOptions {
  host: string;
  wakeTimeoutMs: number;
  limiter?: ConnectionLimiter;
}

export class InstancePortListeners implements PortListeners {
  private readonly open = new Map<string, PortListener[]>();

  constructor(
    private readonly dir: InstanceDirectory,
    private readonly opts: InstancePortListenersOptions,
  ) {}

  async listen(instance: string, ports: number[], previous: { port: number; hostPort?: number }[]): Promise<PortEndpoint[]> {
    await this.close(instance);
    const listeners: PortListener[] = [];
    const endpoints: PortEndpoint[] = [];
    for (const port of ports) {
      const target = { instance, app: instance, port };
      const wanted = previous.find((e) => e.port === port)?.hostPort ?? 0;
      // The old host port may be taken by now: then any free one.
      const { host, wakeTimeoutMs, limiter } = this.opts;
      const l = await listenPort(this.dir, target, port, { host, port: wanted, wakeTimeoutMs, limiter }).catch(() =>
        listenPort(this.dir, target, port, { host, port: 0, wakeTimeoutMs, limiter }),
      );
      listeners.push(l);
      endpoints.push({ port, hostPort: l.port });
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
