// Attacks on the harness (PID 1 of a sandbox machine) from its own workload: opening Node's inspector with
// SIGUSR1, reading its memory, writing its OOM score, writing to its stderr (the machine's console file).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { guestInitPid, machineDirs } from '../../src/vmm/sandbox/machine-state.js';
import { guestRun, useSandboxFixture } from '../vmm/sandbox/sandbox-fixture.js';

/** Whether anything in the namespace of `pid` listens on TCP `port` (the inspector's is 9229). */
function listensOn(pid: number, port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return ['tcp', 'tcp6'].some((f) =>
    fs
      .readFileSync(`/proc/${pid}/net/${f}`, 'utf8')
      .split('\n')
      .slice(1)
      .some((l) => {
        const cols = l.trim().split(/\s+/);
        return cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A';
      }),
  );
}

describe('the harness is out of its workload\'s reach', () => {
  const fx = useSandboxFixture();

  it('SIGUSR1 to PID 1 opens no inspector, and the harness keeps serving', async () => {
    const { client, machine } = await fx.boot();
    const init = guestInitPid(machine.pid)!;
    expect((await guestRun(client, ['sh', '-c', 'kill -USR1 1 && echo sent'])).out).toBe('sent\n');
    await new Promise((r) => setTimeout(r, 500)); // Node would open the inspector port within this
    expect(listensOn(init, 9229)).toBe(false);
    expect((await guestRun(client, ['echo', 'still here'])).out).toBe('still here\n');
  });

  it('hides PID 1 from the workload: not listed, its memory, fds and environment unreadable', async () => {
    const { client } = await fx.boot();
    const pids = (await guestRun(client, ['sh', '-c', 'ls /proc | grep -E "^[0-9]+$"'])).out.split('\n').filter(Boolean);
    expect(pids).not.toContain('1');
    for (const file of ['/proc/1/mem', '/proc/1/environ', '/proc/1/maps', '/proc/1/fd/0']) {
      const r = await guestRun(client, ['sh', '-c', `exec 3<${file} && echo opened`]);
      expect(r.out, file).toBe('');
    }
  });

  it('keeps the harness\'s OOM score and console out of the workload\'s hands', async () => {
    const { client, machine, id } = await fx.boot();
    const init = guestInitPid(machine.pid)!;
    const before = fs.readFileSync(`/proc/${init}/oom_score_adj`, 'utf8');
    const consoleFile = machineDirs(fx.paths.machines, id).console;
    const consoleBefore = fs.readFileSync(consoleFile, 'utf8');
    const r = await guestRun(client, ['sh', '-c', 'echo 1000 > /proc/1/oom_score_adj; echo forged-console-line > /proc/1/fd/2; echo done']);
    expect(r.out).toBe('done\n');
    expect(fs.readFileSync(`/proc/${init}/oom_score_adj`, 'utf8')).toBe(before);
    expect(fs.readFileSync(consoleFile, 'utf8')).toBe(consoleBefore);
    expect(path.basename(consoleFile)).toBe('console.log');
  });
});
