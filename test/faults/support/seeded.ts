// Seeded randomness for the fault suite: every scenario draws its fault points from one seed, printed so a
// failing run can be replayed exactly (AEGIS_FAULT_SEED=N npm run test:faults).
/** `npm run test:faults -- --long` sets this: scenarios run longer and inject more faults. */
export const LONG = process.env.AEGIS_FAULTS_LONG === '1';

export interface Seeded {
  seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max] (both inclusive). */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  shuffle<T>(items: readonly T[]): T[];
}

/**
 * A generator for one scenario, named so its seed line is findable in the output. The seed is
 * AEGIS_FAULT_SEED when set (a replay), else drawn fresh.
 */
export function seeded(scenario: string): Seeded {
  const fromEnv = process.env.AEGIS_FAULT_SEED;
  const seed = fromEnv !== undefined && fromEnv !== '' ? Number(fromEnv) >>> 0 : Math.floor(Math.random() * 2 ** 32) >>> 0;
  console.log(`[faults] ${scenario}: seed ${seed} (replay with AEGIS_FAULT_SEED=${seed})`);
  // mulberry32: small, fast, and good enough to spread fault points; not for anything secret.
  let a = seed;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    seed,
    next,
    int,
    pick: (items) => items[int(0, items.length - 1)]!,
    shuffle: (items) => {
      const out = [...items];
      for (let i = out.length - 1; i > 0; i--) {
        const j = int(0, i);
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      return out;
    },
  };
}
