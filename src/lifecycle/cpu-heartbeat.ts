// The CPU heartbeat of a running instance: whether its machine used more than a noise floor of a CPU since
// the previous sample, as a server working without any connection (a job, a download it started) does;
// idle servers stay below. A function of the samples and the clock handed in.
import { CPU_WINDOW_MS } from './idle-policy.js';

/** Share of one CPU above which an instance without connections still counts as active. */
export const CPU_NOISE_FLOOR = 0.05;

export class CpuHeartbeat {
  private last: { at: number; micros: number } | undefined;

  /**
   * Takes a sample (`cpuMicros` undefined: the backend cannot tell) and says whether the machine was busy
   * since the previous one. A previous sample older than two windows only starts a new window: activity
   * long ago says nothing about now.
   */
  sample(cpuMicros: number | undefined, now: number): boolean {
    const prev = this.last;
    this.last = cpuMicros !== undefined ? { at: now, micros: cpuMicros } : undefined;
    if (!prev || !this.last || now <= prev.at || now - prev.at > 2 * CPU_WINDOW_MS) return false;
    return (this.last.micros - prev.micros) / ((now - prev.at) * 1000) > CPU_NOISE_FLOOR;
  }
}
