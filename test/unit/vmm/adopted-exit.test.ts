// adoptedProcessExit: one shared poller watches every adopted machine process; each promise resolves when its
// own process is gone, and a pid whose start time is not the recorded one is a different process (gone).
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { adoptedProcessExit, pidStartTime } from '../../../src/vmm/process-util.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

function sleeper(): ChildProcess {
  const c = spawn('sleep', ['60'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

const settledWithin = (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

describe('adoptedProcessExit', () => {
  it('resolves for the process that died, and only for it', async () => {
    const [a, b, c] = [sleeper(), sleeper(), sleeper()];
    const watch = (p: ChildProcess) => adoptedProcessExit(p.pid!, pidStartTime(p.pid!)!);
    const [ea, eb, ec] = [watch(a), watch(b), watch(c)];
    b.kill('SIGKILL');
    expect(await settledWithin(eb, 2_000)).toBe(true);
    expect(await settledWithin(ea, 600)).toBe(false);
    expect(await settledWithin(ec, 10)).toBe(false);
    a.kill('SIGKILL');
    c.kill('SIGKILL');
    expect(await settledWithin(Promise.all([ea, ec]), 2_000)).toBe(true);
  });

  it('takes a pid with another start time for a recycled one: the machine is gone', async () => {
    const p = sleeper();
    expect(await settledWithin(adoptedProcessExit(p.pid!, pidStartTime(p.pid!)! - 1), 100)).toBe(true);
  });
});
