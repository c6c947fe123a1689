// kill -9 of aegisd at seeded random points while `aegis apply` writes 50 objects (25 apps, 25 secrets):
// afterwards the store passes PRAGMA integrity_check and the set is wholly at its old or wholly at its new
// generation (apply is one transaction), and an apply the CLI reported as done is never lost.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTempHome, type TempHome } from '../support/temp-home.js';
import { daemonPid, integrityCheck, killDaemon, sleep } from './support/crash.js';
import { LONG, seeded } from './support/seeded.js';

const N = 25;
const ROUNDS = LONG ? 30 : 6;

/** Version v of the 50 objects: each app's command and each secret's value say which version they are. */
function writeObjects(dir: string, v: number): void {
  for (let i = 0; i < N; i++) {
    fs.writeFileSync(
      path.join(dir, `obj-${i}.yaml`),
      `apiVersion: aegis.dev/v1
kind: App
metadata: {name: app-${i}}
spec:
  image: 127.0.0.1:9/none:1
  command: [echo, 'v${v}']
---
apiVersion: aegis.dev/v1
kind: Secret
metadata: {name: secret-${i}}
spec:
  app: app-${i}
  data: {TOKEN: 'v${v}-${i}'}
`,
    );
  }
}

interface Obj {
  metadata: { name: string; generation: number };
  spec: { command?: string[] };
}

describe('crash during apply of 50 objects', () => {
  let t: TempHome;
  let dir: string;

  beforeAll(async () => {
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    dir = fs.mkdtempSync(path.join(t.home, 'deploy-'));
    expect((await t.aegis(['up'])).code).toBe(0);
  }, 30_000);

  afterAll(async () => {
    await t?.dispose();
  }, 30_000);

  /** Each object's version, from the generation (apps: also the command; secrets: the generation alone). */
  const versions = async () => {
    const apps = (await t.api('GET', '/v1/apps')).body.items as Obj[];
    const secrets = (await t.api('GET', '/v1/resources/secrets')).body.items as Obj[];
    return {
      apps: apps.map((a) => ({ name: a.metadata.name, generation: a.metadata.generation, command: a.spec.command?.[1] })),
      secrets: secrets.map((s) => ({ name: s.metadata.name, generation: s.metadata.generation })),
    };
  };

  it('leaves every object at its old or its new generation, never a mix, and keeps acknowledged applies', async () => {
    const rng = seeded('crash-apply');
    writeObjects(dir, 1);
    const started = Date.now();
    expect((await t.aegis(['apply', '-f', dir])).code).toBe(0);
    // The kill points span the whole CLI run: before the request lands, inside the transaction, after it.
    const applyMs = Date.now() - started;
    let generation = 1; // of every object now
    const outcomes = { old: 0, new: 0, acknowledged: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      writeObjects(dir, generation + 1);
      const delay = rng.int(0, Math.round(applyMs * 1.2));
      const pending = t.aegis(['apply', '-f', dir]);
      await sleep(delay);
      await killDaemon(t.home);
      const cli = await pending;
      expect(integrityCheck(t.home), `round ${round} (kill after ${delay} ms)`).toBe('ok');
      expect((await t.aegis(['up'])).code).toBe(0);
      const { apps, secrets } = await versions();
      expect(apps).toHaveLength(N);
      expect(secrets).toHaveLength(N);
      const gens = new Set([...apps.map((a) => a.generation), ...secrets.map((s) => s.generation)]);
      expect([...gens], `round ${round}: one generation for all 50 objects (kill after ${delay} ms)`).toHaveLength(1);
      const now = [...gens][0]!;
      expect([generation, generation + 1]).toContain(now);
      // An app's spec is the one of its generation: no object half-written.
      for (const a of apps) expect(a.command).toBe(`v${now}`);
      if (cli.code === 0) {
        outcomes.acknowledged++;
        expect(now, `round ${round}: the CLI said the apply was done`).toBe(generation + 1);
      }
      outcomes[now === generation ? 'old' : 'new']++;
      generation = now;
    }
    console.log(`[faults] crash-apply: ${ROUNDS} kills, ${outcomes.old} at old, ${outcomes.new} at new, ${outcomes.acknowledged} acknowledged (apply ${applyMs} ms)`);
    expect(daemonPid(t.home)).toBeDefined();
  }, LONG ? 300_000 : 90_000);
});
