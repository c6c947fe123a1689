// Attack: the guest replaces its control socket with a symlink to a host socket, so that the daemon (host
// root), reconnecting by path after a restart, would connect wherever the link points.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tryConnect } from '../../src/vmm/process-util.js';
import { guestRun, useSandboxFixture } from '../vmm/sandbox/sandbox-fixture.js';

/** A unix socket server on the host that counts who connects to it. */
async function victim(file: string): Promise<{ connections: () => number; close: () => void }> {
  let n = 0;
  const server = net.createServer((c) => {
    n++;
    c.destroy();
  });
  await new Promise<void>((resolve) => server.listen(file, resolve));
  return { connections: () => n, close: () => server.close() };
}

describe('the control socket', () => {
  const fx = useSandboxFixture();

  it('is never reached through a symlink the guest planted in its place', async () => {
    const host = await victim(path.join(fx.home, 'host-victim.sock'));
    try {
      const { client, machine } = await fx.boot();
      const r = await guestRun(client, ['sh', '-c', `rm -f /.aegis-control/control.sock && ln -s '${path.join(fx.home, 'host-victim.sock')}' /.aegis-control/control.sock && echo planted`]);
      expect(r.out).toBe('planted\n');
      // What a restarted daemon does: connect to the machine again.
      await expect(machine.connect(1_000)).rejects.toThrow(/did not listen/);
      expect(host.connections()).toBe(0);
    } finally {
      host.close();
    }
  });

  it('has no directory on the host that the guest can write', async () => {
    const { client, id } = await fx.boot();
    expect((await guestRun(client, ['sh', '-c', 'echo x > /.aegis-control/planted && echo ok'])).out).toBe('ok\n');
    const onHost = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? onHost(path.join(dir, e.name)) : [e.name]));
    expect(onHost(path.join(fx.paths.machines, id))).not.toContain('planted');
  });

  it('is connected only when the path itself is a socket, never a link to one', async () => {
    const real = await victim(path.join(fx.home, 'real.sock'));
    fs.symlinkSync(path.join(fx.home, 'real.sock'), path.join(fx.home, 'link.sock'));
    try {
      expect(await tryConnect(path.join(fx.home, 'link.sock'))).toBeUndefined();
      const direct = await tryConnect(path.join(fx.home, 'real.sock'));
      expect(direct).toBeDefined();
      direct!.destroy();
      await new Promise((r) => setTimeout(r, 50));
      expect(real.connections()).toBe(1);
    } finally {
      real.close();
    }
  });
});
