// The CPU heartbeat on samples and a clock the test holds: busy above the noise floor, a stale sample only starts a window.
import { describe, expect, it } from 'vitest';
import { CPU_NOISE_FLOOR, CpuHeartbeat } from '../../../src/lifecycle/cpu-heartbeat.js';
import { CPU_WINDOW_MS } from '../../../src/lifecycle/idle-policy.js';

const micros = (share: number, ms: number) => share * ms * 1000;

describe('CpuHeartbeat', () => {
  it('is busy above the noise floor across a window, idle below it', () => {
    const h = new CpuHeartbeat();
    expect(h.sample(0, 0)).toBe(false);
    expect(h.sample(micros(0.5, CPU_WINDOW_MS), CPU_WINDOW_MS)).toBe(true);
    const used = micros(0.5, CPU_WINDOW_MS) + micros(CPU_NOISE_FLOOR / 2, CPU_WINDOW_MS);
    expect(h.sample(used, 2 * CPU_WINDOW_MS)).toBe(false);
  });

  it('takes a sample after a long gap as the start of a new window, and no reading as no heartbeat', () => {
    const h = new CpuHeartbeat();
    h.sample(0, 0);
    // Busy long ago says nothing about now.
    expect(h.sample(micros(1, 10_000), 10_000)).toBe(false);
    expect(h.sample(micros(1, 10_000) + micros(1, 200), 10_200)).toBe(true);
    expect(h.sample(undefined, 10_400)).toBe(false);
    expect(h.sample(micros(1, 20_000), 10_600)).toBe(false);
  });
});
