// kill -9 of aegisd at seeded random points while instance machines boot and while a guest floods its log:
// afterwards the store is valid, every instance the API acknowledged exists once, each is running (re-adopted
// or booted fresh) or stopped with a reason, and no machine process is orphaned or duplicated (looked up by
// machine id in the pids cgroups and /proc, not by asking the daemon).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, withTempHome, type TempHome } from '../support/temp-home.js';
import { instances, integrityCheck, killDaemon, machineProcesses, settledMachineProblems, sleep, type InstanceView } from './support/crash.js';
import { LONG, seeded } from './support/seeded.js';

const ROUNDS = LONG ? 12 : 3;
const SERVER = ['httpd', '-f', '-p', '8080', '-h', '/etc'];
const FLOOD = ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo "flood $i"; done & exec httpd -f -p 8080 -h /etc'];

describe('crash while machines boot and a guest floods its log', () => {
  let t: TempHome;

  beforeAll(async () => {
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    expect((await t.aegis(['up'])).code).toBe(0);
  }, 30_000);

  afterAll(async () => {
    await t?.dispose();
  }, 90_000);

  const create = async (command: string[]) => {
    const r = await t.api('POST', '/v1/instances', { command, expose: [8080], idle: { pauseAfter: '1h', stopAfter: '1h' } });
    return r.status === 201 ? (r.body as InstanceView).metadata.uid : undefined;
  };
  /** Running on a machine, or stopped/failed with a condition that says why. */
  const settled = (i: InstanceView) => {
    if (i.status.state === 'running') return true;
    const why = i.status.conditions?.find((c) => c.status === 'False' && (c.reason || c.message));
    return (i.status.state === 'stopped' || i.status.state === 'failed') && why !== undefined;
  };

  it('re-adopts or reports every instance, and leaves no machine orphaned or duplicated', async () => {
    const rng = seeded('crash-machines');
    const acknowledged = new Set<string>();
    const flooder = await create(FLOOD);
    expect(flooder).toBeDefined();
    acknowledged.add(flooder!);
    for (let i = 0; i < 2; i++) acknowledged.add((await create(SERVER))!);
    await waitFor(async () => (await instances(t)).every((i) => i.status.state === 'running'), { what: 'first instances running', timeoutMs: 30_000 });

    const points: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Fault point: while two new machines boot (kill after a seeded delay), or in steady flood.
      const point = rng.pick(['boot', 'boot', 'flood'] as const);
      const delay = rng.int(0, point === 'boot' ? 1500 : 3000);
      points.push(`${point}+${delay}ms`);
      const creating = point === 'boot' ? [create(SERVER), create(SERVER)] : [];
      await sleep(delay);
      await killDaemon(t.home);
      for (const id of await Promise.all(creating.map((p) => p.catch(() => undefined)))) if (id) acknowledged.add(id);
      const what = `round ${round} (${point}, kill after ${delay} ms)`;
      expect(integrityCheck(t.home), what).toBe('ok');

      const restarted = Date.now();
      expect((await t.aegis(['up'])).code, what).toBe(0);
      await waitFor(async () => (await instances(t)).every(settled), { what: `${what}: every instance running or stopped with a reason`, timeoutMs: 45_000 });
      const items = await instances(t);
      const ids = items.map((i) => i.metadata.uid);
      // Each acknowledged instance exists exactly once (an unacknowledged one may exist: its write landed).
      for (const id of acknowledged) expect(ids.filter((x) => x === id), `${what}: ${id}`).toHaveLength(1);
      expect(new Set(ids).size, what).toBe(ids.length);
      for (const id of ids) acknowledged.add(id);
      expect(await settledMachineProblems(t), what).toEqual([]);
      console.log(`[faults] crash-machines: ${what}: ${items.length} instances settled ${Date.now() - restarted} ms after up (${items.filter((i) => i.status.state === 'running').length} running${items.filter((i) => i.status.state !== 'running').map((i) => `; ${i.metadata.uid} ${i.status.state}: ${i.status.conditions?.find((c) => c.status === 'False')?.message}`).join('')})`);
    }
    // The flood went on across every kill: the flooding instance's log keeps growing after the last one.
    const logged = async () => (await t.aegis(['logs', flooder!], { timeoutMs: 60_000 })).stdout.match(/flood (\d+)/g)?.length ?? 0;
    expect(await logged()).toBeGreaterThan(0);
    console.log(`[faults] crash-machines: ${ROUNDS} kills at ${points.join(', ')}`);

    // Deleting everything stops every machine: nothing of this home is left running.
    for (const id of acknowledged) await t.api('DELETE', `/v1/instances/${id}`);
    await waitFor(async () => (await instances(t)).length === 0 && machineProcesses(t.home).size === 0, { what: 'all machines gone', timeoutMs: 45_000 });
  }, LONG ? 900_000 : 240_000);
});
