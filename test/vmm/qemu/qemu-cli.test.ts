// End to end on the qemu backend: the built CLI and daemon run a task in a real microVM.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionGuestKernel } from '../../../src/vmm/qemu/guest-kernel.js';
import { which } from '../../../src/util/which.js';
import { withTempHome, type TempHome } from '../../support/temp-home.js';

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
});
