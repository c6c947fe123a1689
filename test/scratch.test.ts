import { afterAll, beforeAll, it } from 'vitest';
import { guestRun, sandboxFixture, type SandboxFixture } from './vmm/sandbox/sandbox-fixture.js';
let fx: SandboxFixture;
beforeAll(async () => { fx = await sandboxFixture(); }, 120_000);
afterAll(() => fx?.dispose());
it('boot timing', async () => {
  const t: number[] = [];
  const ex: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    const { client } = await fx.boot();
    const t1 = performance.now();
    await guestRun(client, ['true']);
    ex.push(performance.now() - t1);
    t.push(t1 - t0);
    await fx.cleanupMachines();
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)].toFixed(1);
  console.log(`BOOT median ${med(t)} ms, exec true median ${med(ex)} ms`);
}, 120_000);
