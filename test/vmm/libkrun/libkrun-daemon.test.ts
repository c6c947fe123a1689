// The daemon and CLI on the libkrun backend (its test double): a task's output, doctor and status rows, an
// instance whose worker dies mid-boot, and a library too old for Aegis.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeLibkrun, fakeLibkrunLacking } from '../../support/fake-libkrun.js';
import { waitFor, withTempHome, type TempHome } from '../../support/temp-home.js';

describe('aegis on the libkrun backend (test double)', () => {
  const homes: TempHome[] = [];
  const dirs: string[] = [];
  const home = (library: string) => {
    const t = withTempHome();
    t.env.AEGIS_BACKEND = 'libkrun';
    t.env.AEGIS_LIBKRUN = library;
    t.env.AEGIS_WARM_MACHINES = '0';
    homes.push(t);
    return t;
  };

  afterEach(async () => {
    for (const t of homes.splice(0)) await t.dispose();
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  }, 60_000);

  it('AEGIS_BACKEND=libkrun aegis run -- echo hi prints hi; doctor and status show the libkrun row and name the double', async () => {
    const fake = fakeLibkrun();
    const t = home(fake.library);
    expect((await t.aegis(['up'])).code).toBe(0);
    expect(await t.aegis(['run', '--', 'echo', 'hi'], { timeoutMs: 60_000 })).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
    const status = await t.aegis(['status']);
    expect(status.stdout).toMatch(/^aegisd: running\nbackend: libkrun\n/);
    const doctor = await t.aegis(['doctor']);
    expect(doctor.stdout).toContain(`libkrun:   test double at ${fake.library} (a fixture of Aegis's tests, not libkrun: no VM, never chosen automatically)\n`);
    expect(doctor.stdout).toContain('Backend:     libkrun\nChosen:      AEGIS_BACKEND=libkrun\nCapabilities:\n  Pause/Resume:          no\n  Memory Snapshots:      no\n  Boot from disk layers: yes\n');
  }, 90_000);

  it('an instance whose worker dies mid-boot is failed, with the worker\'s last stderr line in its Ready condition', async () => {
    const broken = fakeLibkrun({ own: true });
    dirs.push(broken.dir);
    fs.writeFileSync(path.join(broken.dir, 'fault'), 'krun_start_enter\n');
    const t = home(broken.library);
    expect((await t.aegis(['up'])).code).toBe(0);
    const created = await t.api('POST', '/v1/instances', { command: ['httpd', '-f', '-p', '8080'], expose: [8080] });
    expect(created.status).toBe(201);
    const id = created.body.metadata.uid as string;
    const ready = await waitFor(
      async () => {
        const { body } = await t.api('GET', `/v1/instances/${id}`);
        return body.status.state === 'failed' ? body.status.conditions?.find((c: { type: string }) => c.type === 'Ready') : undefined;
      },
      { what: 'failed instance', timeoutMs: 30_000 },
    );
    expect(ready).toMatchObject({ status: 'False', reason: 'StartFailed', message: expect.stringMatching(/exited before its harness listened: aegis-krun-worker: krun_start_enter: Invalid argument \(EINVAL\)$/) });
  }, 90_000);

  it('a libkrun that lacks a function gets one doctor line naming it, and the backend is not available', async () => {
    const old = fakeLibkrunLacking('krun_disable_implicit_vsock');
    dirs.push(old.dir);
    const t = home(old.library);
    const doctor = await t.aegis(['doctor']);
    expect(doctor.stdout).toContain(`libkrun:   ${old.library} lacks krun_disable_implicit_vsock (Aegis needs libkrun 1.17 or newer)\n`);
    expect((await t.aegis(['up'])).code).toBe(0);
    const run = await t.aegis(['run', '--', 'true']);
    expect(run.code).toBe(125);
    expect(run.stderr).toBe(`error: backend libkrun cannot run here: ${old.library} lacks krun_disable_implicit_vsock (Aegis needs libkrun 1.17 or newer)\n`);
  }, 90_000);
});
