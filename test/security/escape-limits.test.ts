// Attacks on the host's shared resources: a fork bomb (every pid of the host, and every machine unable to
// start a process) and a machine filling its disk (the host's disk, and $AEGIS_HOME with it). Each machine
// has its own pids limit and its own sized disk and tmpfs; the host and other machines carry on.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { guestRun, sandboxFixture, type SandboxFixture } from '../vmm/sandbox/sandbox-fixture.js';
import { installAttackPrograms } from './support/attack-programs.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function timed<T>(fn: () => Promise<T> | T): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

describe('what one machine can take from the host and the others', () => {
  let fx: SandboxFixture;
  let workspace: string;

  beforeAll(async () => {
    fx = await sandboxFixture();
    workspace = fs.mkdtempSync(path.join(fx.home, 'ws-'));
    installAttackPrograms(workspace, ['fork-bomb']);
  }, 120_000);
  afterEach(() => fx.cleanupMachines());
  afterAll(() => fx?.dispose());

  it('stops a fork bomb at the machine pids limit while another machine and the host keep answering', async () => {
    // Bounded at 6000 children (above the limit of 4096 tasks) so that a broken limit cannot take the host down.
    const bomber = await fx.boot({ memoryMiB: 512, workspaceDir: workspace });
    const other = await fx.boot();
    const bomb = bomber.client.exec({ argv: ['/workspace/fork-bomb', '6000', '2'], env: {}, stdin: false });
    let out = '';
    bomb.stdout.on('data', (b: Buffer) => (out += b));
    const deadline = Date.now() + 30_000;
    while (!out.includes('forked') && Date.now() < deadline) await sleep(50);
    expect(out).toMatch(/^forked \d+, then EAGAIN\n$/);
    expect(Number(/forked (\d+)/.exec(out)![1])).toBeLessThan(4096);
    // While the bomb's children still hold every pid the bomber may have:
    const answer = await timed(() => guestRun(other.client, ['echo', 'alive']));
    expect(answer.value.out).toBe('alive\n');
    expect(answer.ms).toBeLessThan(5_000);
    const host = await timed(() => spawnSync('true'));
    expect(host.value.status).toBe(0);
    expect(host.ms).toBeLessThan(2_000);
    // The bomber itself is spent, not dead: its harness still answers once the children are gone.
    expect((await bomb.exit).code).toBe(0);
    expect((await guestRun(bomber.client, ['echo', 'alive'])).out).toBe('alive\n');
  }, 60_000);

  it("fills every place a machine can write, and the host's $AEGIS_HOME and the next machine carry on", async () => {
    const filler = await fx.boot({ memoryMiB: 64, diskMiB: 32 });
    const r = await guestRun(filler.client, [
      'sh',
      '-c',
      'for d in / /tmp /dev/shm /run /root; do dd if=/dev/zero of=$d/fill-$$ bs=1M count=200 2>&1 | grep -c "No space left"; done',
    ]);
    // Each place ran out within its own bound: the disk (/ and /root), and the tmpfs mounts.
    expect(r.out.trim().split('\n')).toEqual(['1', '1', '1', '1', '1']);
    const probe = path.join(fx.paths.data, 'host-write-probe');
    fs.writeFileSync(probe, Buffer.alloc(1024 * 1024));
    fs.rmSync(probe);
    const next = await fx.boot();
    expect((await guestRun(next.client, ['echo', 'alive'])).out).toBe('alive\n');
  });
});
