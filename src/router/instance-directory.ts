// The router's only view of instances: the daemon implements this over its lifecycle and control channels,
// tests implement it over plain local servers. Keeping it narrow lets the router stay free of daemon state.
import type { Duplex } from 'node:stream';

export interface RouteTarget {
  /** Instance id, for errors and accounting. */
  instance: string;
  /** App name (ad-hoc instances use their instance id as app name). */
  app: string;
  /** The guest port HTTP goes to (the first exposed port). */
  port: number;
}

export interface InstanceDirectory {
  /** Apps currently served (for the single-instance rule), with their targets. */
  served(): RouteTarget[];
  /**
   * Target by app name, else instance name or id; undefined when not served. An app's name means that app's
   * own instance only, never another instance carrying the name (src/resources/instance-names.ts).
   */
  byApp(nameOrId: string): RouteTarget | undefined;
  /**
   * Opens a byte stream to the guest port, waking the instance if paused/stopped. Rejects with
   * WakeTimeoutError (has retryAfterSeconds) when it could not be ready in time, or another Error when it failed.
   */
  connect(target: RouteTarget, port: number, signal: AbortSignal): Promise<Duplex>;
  /** The instance runs now, so a stream opened earlier reaches its guest without a wake (pooled upstreams). */
  running(instance: string): boolean;
  /** Called when a client connection starts and ends being attributed to an instance (for CONNS and idle timers). */
  connectionOpened(instance: string): void;
  connectionClosed(instance: string): void;
  /** Traffic on an open connection (debounced by the caller is fine) so Last Active moves. */
  activity(instance: string): void;
}

/** The instance is waking but was not ready in time; the client should retry after `retryAfterSeconds`. */
export class WakeTimeoutError extends Error {
  constructor(
    readonly retryAfterSeconds: number,
    message: string,
  ) {
    super(message);
    this.name = 'WakeTimeoutError';
  }
}
