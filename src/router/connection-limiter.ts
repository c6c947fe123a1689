// Caps open client connections per client address and in all, so one client holding sockets open (slowloris)
// cannot take every file descriptor of the daemon, whose process the router and the port listeners share.
// One limiter serves the router and every per-port listener: the cap is the process's.
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  /** Open connections in all (router.maxConnections). */
  total: number;
  /** Open connections from one address (router.maxConnectionsPerClient). */
  perClient: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { total: 512, perClient: 256 };

/** A refusal is reported at most this often, so a flood of refused connections cannot flood the log. */
const REPORT_INTERVAL_MS = 10_000;

export class ConnectionLimiter {
  private total = 0;
  private readonly perClient = new Map<string, number>();
  private lastReport = 0;
  private unreported = 0;

  /** `report` receives one line naming the cap that refused a connection (for the daemon log). */
  constructor(
    private readonly limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
    private readonly report: (message: string) => void = () => undefined,
  ) {}

  /**
   * Counts `socket` until it closes and returns true, or destroys it at once and returns false when its
   * address or the process is at its cap. There is no polite refusal: a reply is bytes the refused client
   * could choose not to read.
   */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? 'unknown';
    const fromClient = this.perClient.get(address) ?? 0;
    const why =
      this.total >= this.limits.total
        ? `${this.total} connections are open (router.maxConnections)`
        : fromClient >= this.limits.perClient
          ? `${fromClient} connections from ${address} are open (router.maxConnectionsPerClient)`
          : undefined;
    if (why) {
      socket.destroy();
      this.refused(address, why);
      return false;
    }
    this.total++;
    this.perClient.set(address, fromClient + 1);
    socket.once('close', () => {
      this.total--;
      const left = (this.perClient.get(address) ?? 1) - 1;
      if (left > 0) this.perClient.set(address, left);
      else this.perClient.delete(address);
    });
    return true;
  }

  /** Open connections counted now (tests and status). */
  open(): number {
    return this.total;
  }

  private refused(address: string, why: string): void {
    const now = Date.now();
    if (now - this.lastReport < REPORT_INTERVAL_MS) {
      this.unreported++;
      return;
    }
    const more = this.unreported > 0 ? ` (${this.unreported} more refused since the last report)` : '';
    this.lastReport = now;
    this.unreported = 0;
    this.report(`refused a connection from ${address}: ${why}${more}`);
  }
}
