// 50 CLI writers at once against one daemon: applies of overlapping directories, app create and delete
// races, secret sets on one app. Afterwards nothing is lost (every acknowledged write is in the store,
// every refusal is one line naming the conflict), no app has two instances or two machines, and the
// burst cost a bounded number of reconciles per key (no storm).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, busyboxEntries, pushImage } from '../support/oci-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { waitFor, withTempHome, type CliResult, type TempHome } from '../support/temp-home.js';
import { instances, machineProcesses, settledMachineProblems } from './support/crash.js';
import { seeded } from './support/seeded.js';

const DIRS = 4;
const SHARED = 3; // apps every directory declares (served), each directory with its own command
const RACES = 5; // app names two writers each create, and two each delete

interface Writer {
  what: string;
  args: string[];
}

describe('50 concurrent CLI writers', () => {
  let t: TempHome;
  let registry: TestRegistry;
  let image: string;
  const dirs: string[] = [];

  beforeAll(async () => {
    registry = await startRegistry();
    const entries = [...busyboxEntries(), { name: 'bin/httpd', type: 'symlink' as const, linkname: 'busybox' }];
    await pushImage(registry.url, 'test/web', '1', await buildImage({ layers: [{ entries }], config: { Env: ['PATH=/bin'] } }));
    image = `${registry.host}/test/web:1`;
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    expect((await t.aegis(['up'])).code).toBe(0);
    for (let d = 0; d < DIRS; d++) {
      const dir = fs.mkdtempSync(path.join(t.home, `dir${d}-`));
      dirs.push(dir);
      for (let s = 0; s < SHARED; s++) {
        fs.writeFileSync(path.join(dir, `shared-${s}.yaml`), `apiVersion: aegis.dev/v1\nkind: App\nmetadata: {name: shared-${s}}\nspec:\n  image: ${image}\n  command: [sh, -c, 'echo from dir${d}; exec httpd -f -p 80 -h /etc']\n  expose: [80]\n  serve: true\n`);
      }
      fs.writeFileSync(path.join(dir, 'own.yaml'), `apiVersion: aegis.dev/v1\nkind: App\nmetadata: {name: own-${d}}\nspec:\n  image: ${image}\n  command: [echo, own]\n`);
    }
    for (let k = 0; k < RACES; k++) expect((await t.aegis(['app', 'create', '--name', `del-${k}`, '--image', image, '--', 'echo', 'x'])).code).toBe(0);
    expect((await t.aegis(['app', 'create', '--name', 'target', '--image', image, '--', 'echo', 'x'])).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    for (let s = 0; s < SHARED; s++) await t?.api('DELETE', `/v1/apps/shared-${s}`);
    await waitFor(async () => (await instances(t)).length === 0, { what: 'served instances gone', timeoutMs: 30_000 }).catch(() => undefined);
    await t?.dispose();
    await registry?.stop();
  }, 60_000);

  it('loses no update, runs one instance per app, and reconciles each key a bounded number of times', async () => {
    const rng = seeded('concurrency');
    const writers: Writer[] = [];
    for (let i = 0; i < 20; i++) writers.push({ what: 'apply', args: ['apply', '-f', dirs[i % DIRS]!] });
    for (let k = 0; k < RACES; k++) for (let j = 0; j < 2; j++) writers.push({ what: `create race-${k}`, args: ['app', 'create', '--name', `race-${k}`, '--image', image, '--', 'echo', `writer ${j}`] });
    for (let k = 0; k < RACES; k++) for (let j = 0; j < 2; j++) writers.push({ what: `delete del-${k}`, args: ['app', 'delete', `del-${k}`] });
    for (let i = 0; i < 10; i++) writers.push({ what: `secret KEY_${i}`, args: ['secret', 'set', 'target', `KEY_${i}`, `value-${i}`] });
    expect(writers).toHaveLength(50);
    const order = rng.shuffle(writers);
    const results: (CliResult & Writer)[] = await Promise.all(order.map(async (w) => ({ ...w, ...(await t.aegis(w.args, { timeoutMs: 90_000 })) })));

    // Every refusal is one line that names its cause; nothing else fails.
    for (const r of results.filter((x) => x.code !== 0)) {
      expect(r.stderr.trim().split('\n'), `${r.what}: ${r.stderr}`).toHaveLength(1);
      expect(r.stderr, r.what).toMatch(/already exists|not found|is being deleted|conflict/i);
    }
    // Applies and secret sets never conflict with each other: all of them land.
    for (const r of results.filter((x) => x.what === 'apply' || x.what.startsWith('secret'))) expect(r, `${r.what}: ${r.stderr}`).toMatchObject({ code: 0 });
    // Each contested create: exactly one writer won, the other was told the name is taken.
    for (let k = 0; k < RACES; k++) {
      const mine = results.filter((r) => r.what === `create race-${k}`);
      expect(mine.filter((r) => r.code === 0), `race-${k}`).toHaveLength(1);
      expect((await t.api('GET', `/v1/apps/race-${k}`)).status).toBe(200);
    }
    // Each contested delete: at least one writer succeeded, and the app goes.
    for (let k = 0; k < RACES; k++) {
      expect(results.filter((r) => r.what === `delete del-${k}` && r.code === 0).length, `del-${k}`).toBeGreaterThanOrEqual(1);
      await waitFor(async () => (await t.api('GET', `/v1/apps/del-${k}`)).status === 404, { what: `del-${k} gone` });
    }
    // No lost update: all ten keys set concurrently on one app are there.
    expect((await t.api('GET', '/v1/apps/target/secrets')).body.keys).toEqual(Array.from({ length: 10 }, (_, i) => `KEY_${i}`).sort());
    // Each shared app holds one directory's version whole, and every directory's own app exists.
    for (let s = 0; s < SHARED; s++) expect((await t.api('GET', `/v1/apps/shared-${s}`)).body.spec.command[2]).toMatch(/^echo from dir\d; exec httpd/);
    for (let d = 0; d < DIRS; d++) expect((await t.api('GET', `/v1/apps/own-${d}`)).status).toBe(200);

    // Settled: one running instance per served app, one machine each, no machine nobody owns.
    await waitFor(
      async () => {
        const items = (await instances(t)).filter((i) => !i.metadata.deletionTimestamp);
        const served = Array.from({ length: SHARED }, (_, s) => items.filter((i) => i.spec.app === `shared-${s}`));
        return served.every((list) => list.length === 1 && list[0]!.status.state === 'running') && machineProcesses(t.home).size === SHARED;
      },
      { what: 'one running instance per served app', timeoutMs: 60_000 },
    );
    expect((await instances(t)).filter((i) => i.spec.app?.startsWith('shared-'))).toHaveLength(SHARED);
    expect(await settledMachineProblems(t)).toEqual([]);

    // No storm: 20 applies touching each shared app cost each key a bounded number of reconciles.
    const counts = (await t.api('GET', '/v1/status/reconciles')).body.controllers as Record<string, { total: number; keys: Record<string, number> }>;
    const worst = Object.entries(counts).flatMap(([kind, c]) => Object.entries(c.keys).map(([key, n]) => ({ kind, key, n }))).sort((a, b) => b.n - a.n);
    console.log(`[faults] concurrency: reconciles ${Object.entries(counts).map(([k, c]) => `${k} ${c.total}`).join(', ')}; most for one key: ${worst.slice(0, 3).map((w) => `${w.kind}/${w.key} ${w.n}`).join(', ')}`);
    const gens = await Promise.all(Array.from({ length: SHARED }, async (_, s) => (await t.api('GET', `/v1/apps/shared-${s}`)).body.metadata.generation as number));
    // Settled, nothing written: a quiet second must cost (almost) no reconciles; a key that triggers itself keeps going.
    await new Promise((r) => setTimeout(r, 3000));
    const later = (await t.api('GET', '/v1/status/reconciles')).body.controllers as typeof counts;
    const quiet = Object.fromEntries(Object.keys(later).map((k) => [k, later[k]!.total - counts[k]!.total]));
    console.log(`[faults] concurrency: shared app generations ${gens.join(', ')}; reconciles in 3 quiet seconds ${JSON.stringify(quiet)}`);
    // Each spec change of a shared app costs it a reconcile or two (its release and instance report back); a
    // trigger that feeds on itself costs several per change.
    for (let s = 0; s < SHARED; s++) expect(counts.App!.keys[`shared-${s}`], `App/shared-${s} reconciles (generation ${gens[s]})`).toBeLessThanOrEqual(2 * gens[s]! + 5);
    for (const [kind, n] of Object.entries(quiet)) expect(n, `${kind} reconciles while nothing was written`).toBeLessThanOrEqual(SHARED);
  }, 180_000);
});
