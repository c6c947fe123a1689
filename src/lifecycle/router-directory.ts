// The router's view of instances (InstanceDirectory) over the instance supervisor: targets by app name,
// wake-then-forward through the control channel, and connection accounting into each runtime.
import type { Duplex } from 'node:stream';
import { WakeTimeoutError, type InstanceDirectory, type RouteTarget } from '../router/instance-directory.js';
import { ChannelError } from '../vmm/channel/channel-error.js';
import { resolveInstanceName } from '../resources/instance-names.js';
import type { ManagedInstance } from './instance-supervisor.js';
import { WakeRefusedError, type InstanceRuntime } from './instance-runtime.js';

/** Right after a boot the server may not listen yet: refused forwards are retried this often. */
const REFUSED_RETRY_MS = 50;

// Ad-hoc instances have no app: they go by their own name (in pages, logs and the guest's hostname alike).
const routeTarget = (m: ManagedInstance): RouteTarget => ({ instance: m.uid, app: m.app ?? m.name, port: m.ports[0]! });

/** The instances a directory routes to (the supervisor's). */
export interface ServedInstances {
  managed(): ManagedInstance[];
  runtime(uid: string): InstanceRuntime | undefined;
  /** The runtime, waiting for an instance the daemon found in its store at start and has not taken up yet. */
  runtimeSoon(uid: string, signal: AbortSignal): Promise<InstanceRuntime | undefined>;
  appNamed(nameOrId: string): string | undefined;
}

export class RouterDirectory implements InstanceDirectory {
  constructor(private readonly instances: ServedInstances) {}

  served(): RouteTarget[] {
    return this.instances
      .managed()
      .filter((m) => m.ports.length > 0)
      .map(routeTarget);
  }

  /** An app's name reaches only that app's instance; an instance's own name only when no app has it. */
  byApp(nameOrId: string): RouteTarget | undefined {
    const { instance } = resolveInstanceName(nameOrId, this.instances.managed(), (n) => this.instances.appNamed(n));
    return instance && instance.ports.length > 0 ? routeTarget(instance) : undefined;
  }

  async connect(target: RouteTarget, port: number, signal: AbortSignal): Promise<Duplex> {
    const rt = await this.instances.runtimeSoon(target.instance, signal);
    if (!rt) throw new Error(`instance ${target.instance} is gone`);
    let client;
    try {
      client = await rt.wake();
    } catch (err) {
      if (err instanceof WakeRefusedError) throw new WakeTimeoutError(Math.max(1, err.retryAfterSeconds), err.message);
      throw err;
    }
    for (;;) {
      try {
        return await client.forward(port);
      } catch (err) {
        const refused = err instanceof ChannelError && err.code === 'FORWARD_REFUSED';
        if (!refused || signal.aborted) throw err;
        await new Promise((r) => setTimeout(r, REFUSED_RETRY_MS));
        if (signal.aborted) throw signal.reason ?? err;
      }
    }
  }

  running(instance: string): boolean {
    return this.instances.runtime(instance)?.state === 'running';
  }

  connectionOpened(instance: string): void {
    this.instances.runtime(instance)?.connectionOpened();
  }

  connectionClosed(instance: string): void {
    this.instances.runtime(instance)?.connectionClosed();
  }

  activity(instance: string): void {
    this.instances.runtime(instance)?.touch();
  }
}
