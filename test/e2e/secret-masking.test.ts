// A workload that prints its own secrets: what `aegis run` streams, what `aegis logs` shows and what
// $AEGIS_HOME keeps have `***` in their place, also when a value is written in two parts.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, busyboxEntries, pushImage } from '../support/oci-builder.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { scaled, waitFor, withTempHome, type TempHome } from '../support/temp-home.js';

const APP_SECRET = 'app-value-1234abcd';
const WORKSPACE_SECRET = 'ws-value-77aa66ee';
const ROTATED = 'rotated-5e5e5e';

/** Files under the home that hold `value`, as `grep -rl` finds them (sockets skipped). */
function filesHolding(home: string, value: string): string[] {
  const r = spawnSync('grep', ['-rl', '-D', 'skip', '-F', value, home], { encoding: 'utf8' });
  // A machine's directory removed during the walk is not a failure of the search.
  const errors = r.stderr.split('\n').filter((l) => l && !l.endsWith('No such file or directory'));
  if (r.status === 2 && errors.length > 0) throw new Error(errors.join('\n'));
  return r.stdout.split('\n').filter(Boolean);
}

describe('secret values are masked in output and logs', { timeout: scaled(30_000) }, () => {
  let t: TempHome;
  let registry: TestRegistry;

  beforeAll(async () => {
    registry = await startRegistry();
    const entries = [...busyboxEntries(), { name: 'bin/httpd', type: 'symlink' as const, linkname: 'busybox' }];
    await pushImage(registry.url, 'test/web', '1', await buildImage({ layers: [{ entries }], config: { Env: ['PATH=/bin'] } }));
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    expect((await t.aegis(['up'])).code).toBe(0);
    const server = `echo "starting with $SECRET and $WS_TOKEN"; exec httpd -f -p 80 -h /`;
    expect((await t.aegis(['app', 'create', '--name', 'a', '--image', `${registry.host}/test/web:1`, '--secret', '*', '--expose', '80', '--', 'sh', '-c', server])).code).toBe(0);
    expect((await t.aegis(['secret', 'set', 'a', 'SECRET', APP_SECRET])).code).toBe(0);
    expect((await t.aegis(['secret', 'set-workspace', 'WS_TOKEN', WORKSPACE_SECRET])).code).toBe(0);
  }, scaled(60_000));

  afterAll(async () => {
    await t?.dispose();
    await registry?.stop();
  }, scaled(60_000));

  it('aegis run streams *** for the values, and nothing under $AEGIS_HOME holds them', async () => {
    const r = await t.aegis(['run', '--app', 'a', '--', 'sh', '-c', 'echo $SECRET; echo "ws=$WS_TOKEN" >&2']);
    expect(r).toEqual({ code: 0, stdout: '***\n', stderr: 'ws=***\n' });
    expect(filesHolding(t.home, APP_SECRET)).toEqual([]);
    expect(filesHolding(t.home, WORKSPACE_SECRET)).toEqual([]);
    // A rotated value is masked from the next write on.
    expect((await t.aegis(['secret', 'set', 'a', 'SECRET', ROTATED])).code).toBe(0);
    expect(await t.aegis(['run', '--app', 'a', '--', 'sh', '-c', 'echo $SECRET'])).toMatchObject({ code: 0, stdout: '***\n' });
  });

  it('masks a value written in two parts, half a second apart', async () => {
    const split = 'printf %s "$SECRET" | head -c 6; sleep 0.5; printf %s "$SECRET" | tail -c +7; echo " done"';
    expect(await t.aegis(['run', '--app', 'a', '--', 'sh', '-c', split])).toMatchObject({ code: 0, stdout: '*** done\n' });
    // The parts were two writes: the first waited in the daemon for the second rather than leak its half.
    expect(filesHolding(t.home, APP_SECRET.slice(0, 6))).toEqual([]);
  });

  it("masks a served app's output and its execs' in aegis logs; still nothing under $AEGIS_HOME holds them", async () => {
    expect((await t.aegis(['app', 'publish', 'a'])).code).toBe(0);
    expect((await t.api('POST', '/v1/apps/a/serve', {})).status).toBe(201);
    await waitFor(async () => (await t.aegis(['logs', 'a'])).stdout.includes('starting with'), { what: 'the server to print', timeoutMs: 20_000 });
    expect((await t.aegis(['exec', 'a', '--', 'sh', '-c', 'echo "exec sees $SECRET"'])).code).toBe(0);
    const logs = await waitFor(async () => {
      const r = await t.aegis(['logs', 'a']);
      return r.stdout.includes('exec sees') && r.stdout;
    }, { what: 'the exec output in the log' });
    expect(logs).toContain('[server] starting with *** and ***\n');
    expect(logs).toContain('[exec] exec sees ***\n');
    // `aegis exec` itself passes the command's output through unchanged (it is how files are copied out).
    expect((await t.aegis(['exec', 'a', '--', 'sh', '-c', 'echo $SECRET'])).stdout).toBe(`${ROTATED}\n`);
    expect([APP_SECRET, ROTATED, WORKSPACE_SECRET].flatMap((v) => filesHolding(t.home, v))).toEqual([]);
  });
});
