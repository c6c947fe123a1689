// End to end on the qemu backend: the built CLI and daemon run a task in a real microVM.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionGuestKernel } from '../../../src/vmm/qemu/guest-kernel.js';
import { which } from '../../../src/util/which.js';
import { waitFor, withTempHome, type TempHome } from '../../support/temp-home.js';
import { httpGet } from '../../support/http-get.js';

const hasQemu = which('qemu-system-x86_64') !== undefined;
if (!hasQemu) console.warn('skipping the qemu CLI test: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)');

describe.skipIf(!hasQemu)('AEGIS_BACKEND=qemu aegis run', () => {
  let t: TempHome;

  beforeAll(async () => {
    t = withTempHome();
    t.env.AEGIS_BACKEND = 'qemu';
    // No warm machine: under TCG its boot would outlast `aegis down`'s deadline at the end.
    t.env.AEGIS_WARM_MACHINES = '0';
    const shared = await provisionGuestKernel(path.join(os.tmpdir(), 'aegis-test-cache', 'qemu'));
    fs.mkdirSync(path.join(t.home, 'data', 'qemu'), { recursive: true });
    fs.symlinkSync(shared.dir, path.join(t.home, 'data', 'qemu', path.basename(shared.dir)));
    // Short idle times: the serve test below pauses the VM (QMP stop), then lets it stop (its memory saved),
    // and wakes it with a request each time.
    fs.writeFileSync(path.join(t.home, 'config.yaml'), 'router:\n  port: 0\n  wakeTimeout: 2m\nidle:\n  pauseAfter: 1s\n  stopAfter: 3s\n');
    expect((await t.aegis(['up'])).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await t?.dispose();
  });

  it("prints the guest kernel's release, streams stderr and keeps the exit code", async () => {
    const r = await t.aegis(['run', '--', 'sh', '-c', 'uname -r; echo err >&2; exit 3'], { timeoutMs: 120_000 });
    expect(r.stdout.trim()).toMatch(/cloud-amd64$/);
    expect(r.stdout.trim()).not.toBe(os.release());
    expect(r.stderr).toBe('err\n');
    expect(r.code).toBe(3);
    const status = await t.aegis(['status']);
    expect(status.stdout).toMatch(/qemu/);
  }, 150_000);

  it('serves through the router, execs, and wakes a paused VM, then a stopped one from its memory snapshot', async () => {
    const router = (await t.api('GET', '/v1/status')).body.router as string;
    const inst = await t.api('POST', '/v1/instances', { command: ['httpd', '-f', '-p', '8080', '-h', '/etc'], expose: [8080] });
    const id = inst.body.metadata.uid as string;
    const get = () => httpGet(`${router}/os-release`, { headers: { 'x-aegis-app': id } });
    // The first request waits for the cold boot (seconds under TCG).
    expect(await get()).toMatchObject({ status: 200, body: expect.stringContaining('Aegis base') });
    const exec = await t.aegis(['exec', id, '--', 'sh', '-c', 'uname -r; echo kept > /tmp/ram-only'], { timeoutMs: 60_000 });
    expect(exec.stdout.trim()).toMatch(/cloud-amd64$/);
    const state = async () => (await t.api('GET', `/v1/instances/${id}`)).body.status.state as string;
    await waitFor(async () => (await state()) === 'paused', { what: 'paused', timeoutMs: 30_000 });
    expect(await get()).toMatchObject({ status: 200 });
    expect(await state()).toBe('running');
    // Stopped for idleness: the VM's memory went to disk, and the next request brings the same guest back.
    await waitFor(async () => (await state()) === 'stopped', { what: 'stopped', timeoutMs: 60_000 });
    // Left on disk a while: its clock falls that far behind, more than the check below allows.
    await new Promise((r) => setTimeout(r, 5_000));
    expect(await get()).toMatchObject({ status: 200 });
    const after = await t.aegis(['exec', id, '--', 'sh', '-c', 'cat /tmp/ram-only; date +%s'], { timeoutMs: 60_000 });
    const [kept, guestNow] = after.stdout.trim().split('\n');
    expect(kept).toBe('kept');
    // Its clock stood still while it was on disk; the daemon set it on the way back.
    expect(Math.abs(Number(guestNow) - Date.now() / 1000)).toBeLessThan(3);
    const logs = await t.aegis(['logs', id]);
    expect(logs.stdout).toMatch(/resumed from its memory snapshot/);
    await t.api('DELETE', `/v1/instances/${id}`);
  }, 240_000);
});
