// Attack: a workload reaches for the services of the host that runs it: the daemon's API socket (which
// starts machines with any image and mounts) and the router (every app's HTTP), on the host's loopback or
// any address of the host. A sandbox machine has a network namespace of its own (only lo), and the
// socket is a path of the host's filesystem, which the guest does not see.
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ON_QEMU, withTempHome, type TempHome } from '../support/temp-home.js';

describe.skipIf(ON_QEMU)("the host's services, from inside a machine", () => {
  let t: TempHome;
  let routerPort: string;

  beforeAll(async () => {
    t = withTempHome();
    expect((await t.aegis(['up'])).code).toBe(0);
    routerPort = new URL((await t.api('GET', '/v1/status')).body.router as string).port;
  }, 60_000);
  afterAll(() => t?.dispose());

  it('cannot reach the router, on the host loopback or any host address', async () => {
    const hostAddresses = Object.values(os.networkInterfaces())
      .flat()
      .filter((a) => a && a.family === 'IPv4')
      .map((a) => a!.address);
    expect(hostAddresses).toContain('127.0.0.1');
    const script = hostAddresses.map((a) => `wget -T 2 -qO- http://${a}:${routerPort}/ >/dev/null 2>&1 && echo "reached ${a}"`).join('; ');
    const r = await t.aegis(['run', '--', 'sh', '-c', `${script}; echo done`]);
    expect(r.stdout).toBe('done\n');
  });

  it('cannot see or connect to the daemon socket', async () => {
    const socket = path.join(t.home, 'aegisd.sock');
    const r = await t.aegis(['run', '--', 'sh', '-c', `ls -d "${socket}" "${t.home}" 2>&1; echo done`]);
    expect(r.stdout.match(/No such file or directory/g)).toHaveLength(2);
    expect(r.stdout).toMatch(/done\n$/);
    // No socket of the host's in the guest's own abstract namespace either (it belongs to its network namespace).
    const unix = await t.aegis(['run', '--', 'cat', '/proc/net/unix']);
    expect(unix.stdout).not.toContain('aegisd');
  });
});
