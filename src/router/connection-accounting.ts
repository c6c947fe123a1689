// Attributes client sockets to instances (CONNS, idle timers) and throttles activity reports.
// A socket counts once per instance however many keep-alive requests it carries.
import type { Duplex } from 'node:stream';
import type { InstanceDirectory } from './instance-directory.js';

/** Activity is reported at most this often per instance; Last Active needs no finer grain. */
const ACTIVITY_INTERVAL_MS = 1000;

export class ConnectionAccounting {
  private readonly attributed = new WeakMap<Duplex, Set<string>>();
  private readonly lastActivity = new Map<string, number>();

  constructor(private readonly dir: InstanceDirectory) {}

  /** Counts `socket` as a connection of `instance` until it closes (idempotent per pair). */
  attribute(socket: Duplex, instance: string): void {
    let instances = this.attributed.get(socket);
    if (!instances) {
      instances = new Set();
      this.attributed.set(socket, instances);
      const owned = instances;
      socket.once('close', () => {
        for (const id of owned) this.safely(() => this.dir.connectionClosed(id));
      });
    }
    if (instances.has(instance)) return;
    instances.add(instance);
    this.safely(() => this.dir.connectionOpened(instance));
    // A socket that closed before we got here never emits 'close' again: balance the count now.
    if (socket.destroyed && socket.closed) {
      instances.delete(instance);
      this.safely(() => this.dir.connectionClosed(instance));
    }
  }

  /** Reports traffic for `instance`, at most once per second. */
  activity(instance: string): void {
    const now = Date.now();
    const last = this.lastActivity.get(instance);
    if (last !== undefined && now - last < ACTIVITY_INTERVAL_MS) return;
    this.lastActivity.set(instance, now);
    this.safely(() => this.dir.activity(instance));
  }

  // A failing accounting callback must not take a client connection (or the router) down with it.
  private safely(fn: () => void): void {
    try {
      fn();
    } catch {
      /* accounting is best effort */
    }
  }
}
