// Attack: fill /tmp (memory the OOM killer cannot free), then exhaust memory. The OOM killer used to take the
// harness and the task said "connection lost"; now tmpfs is bounded inside the limit, the workload is the
// victim, and the task reports running out of memory.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTempHome, type TempHome } from '../support/temp-home.js';

describe('a task that fills /tmp and then its memory', () => {
  let t: TempHome;

  beforeAll(async () => {
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    expect((await t.aegis(['up'])).code).toBe(0);
  }, 30_000);
  afterAll(() => t?.dispose(), 30_000);

  it('is reported killed for out of memory, with the harness alive to say so', async () => {
    const r = await t.aegis(['run', '--memory', '64', '--', 'sh', '-c', 'cat /dev/zero > /tmp/fill; cat /dev/zero > /dev/shm/fill; echo filled; x=$(head -c 400000000 /dev/zero | tr "\\000" a); echo survived'], { timeoutMs: 60_000 });
    expect(r.stdout).toContain('filled');
    expect(r.stdout).not.toContain('survived');
    expect(r.code).toBe(137);
    expect(r.stderr).toMatch(/out of memory/);
    expect(r.stderr).not.toMatch(/connection|lost/i);
  }, 90_000);
});
