// What keeps an instance awake, counted: its open connections (router, port listeners), the work holding it
// (an exec), when anything last happened, and its CPU heartbeat. The idle policy decides on these numbers;
// this only keeps them, on the clock handed in.
import { CpuHeartbeat } from './cpu-heartbeat.js';

export class InstanceActivity {
  private conns = 0;
  private busy = 0;
  private last: number;
  private readonly cpu = new CpuHeartbeat();

  /** `changed` is told when connections or holds change (often: the caller debounces). */
  constructor(
    private readonly now: () => number,
    private readonly changed: () => void = () => undefined,
  ) {
    this.last = now();
  }

  get connections(): number {
    return this.conns;
  }

  /** When anything last happened (ms on the clock). */
  get lastActiveAt(): number {
    return this.last;
  }

  /** A connection is open or work holds it, or `busyElsewhere` (a log reader following it). */
  inUse(busyElsewhere = false): boolean {
    return this.conns > 0 || this.busy > 0 || busyElsewhere;
  }

  /** Nothing open or held now, and nothing happened since `lastActiveAt` was read. */
  quietSince(lastActiveAt: number): boolean {
    return this.last === lastActiveAt && !this.inUse();
  }

  connectionOpened(): void {
    this.conns++;
    this.touch();
    this.changed();
  }

  connectionClosed(): void {
    this.conns = Math.max(0, this.conns - 1);
    this.touch();
    this.changed();
  }

  /** Work that keeps the instance awake while it lasts (an exec); the returned function ends it, once. */
  hold(): () => void {
    this.busy++;
    this.touch();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.busy--;
      this.touch();
      this.changed();
    };
  }

  touch(): void {
    this.last = this.now();
  }

  /** Takes a CPU sample (see CpuHeartbeat): whether the machine worked since the previous one. */
  sampleCpu(cpuMicros: number | undefined): boolean {
    return this.cpu.sample(cpuMicros, this.now());
  }
}
