// Issue 21, item 12: two daemons started together on one AEGIS_HOME both ran (the pid file is written only
// at the end of start-up). Now the first takes an flock on data/aegisd.lock and the second exits saying so.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/daemon/pid-file.js';
import { ROOT, waitFor, withTempHome, type TempHome } from '../support/temp-home.js';

const AEGISD = path.join(ROOT, 'bin', 'aegisd');

interface Started {
  child: ChildProcess;
  exit: Promise<number>;
  stderr: () => string;
}

const started: Started[] = [];

/** aegisd in the foreground, as `aegis up` would start it, with its stderr in a file. */
function startAegisd(t: TempHome, name: string): Started {
  const errFile = path.join(t.home, `${name}.err`);
  const err = fs.openSync(errFile, 'w');
  const child = spawn(process.execPath, [AEGISD], { env: t.env, detached: true, stdio: ['ignore', 'ignore', err] });
  fs.closeSync(err);
  child.unref();
  const exit = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
  const s = { child, exit, stderr: () => fs.readFileSync(errFile, 'utf8') };
  started.push(s);
  return s;
}

const pidFile = (t: TempHome) => path.join(t.home, 'data', 'aegisd.pid');
const readPid = (t: TempHome) => Number(fs.readFileSync(pidFile(t), 'utf8').trim());

describe('one daemon per AEGIS_HOME', () => {
  let t: TempHome;
  beforeEach(() => {
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0'; // no machine boots: the test is about start-up only
  });
  afterEach(async () => {
    // Without the lock both daemons run, and `aegis down` stops only the one in the pid file.
    for (const s of started.splice(0)) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGTERM');
        await s.exit;
      }
    }
    await t.dispose();
  });

  it('of two daemons started at the same moment, exactly one runs; the other exits 1 saying which holds the home', async () => {
    const both = [startAegisd(t, 'a'), startAegisd(t, 'b')];
    const first = await Promise.race(both.map((s, i) => s.exit.then((code) => ({ i, code }))));
    const loser = both[first.i]!;
    const winner = both[1 - first.i]!;
    expect(first.code).toBe(1);
    await waitFor(() => fs.existsSync(pidFile(t)) && readPid(t) === winner.child.pid, { what: 'the winner to be ready' });
    const message = loser.stderr().trim();
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toMatch(new RegExp(`^aegisd: another aegisd( \\(pid ${winner.child.pid}\\))? holds ${t.home.replace(/[.]/g, '\\.')};`));
    expect(isAlive(winner.child.pid!)).toBe(true);
    expect((await t.aegis(['status'])).code).toBe(0);
  });

  it('a daemon started while one runs is refused with the running one\'s pid; after a kill -9 the next one starts', async () => {
    const up = await t.aegis(['up']);
    expect(up.code, up.stderr).toBe(0);
    const pid = readPid(t);
    // Not through `aegis up` (which sees the pid file and says "already running"): aegisd itself refuses.
    const second = startAegisd(t, 'second');
    expect(await second.exit).toBe(1);
    expect(second.stderr()).toBe(`aegisd: another aegisd (pid ${pid}) holds ${t.home}; stop it first (aegis down)\n`);
    expect(isAlive(pid)).toBe(true);

    // The kernel drops the lock with the process, however it dies: a stale lock never blocks the next start.
    process.kill(pid, 'SIGKILL');
    await waitFor(() => !isAlive(pid), { what: 'the daemon to die' });
    const again = await t.aegis(['up']);
    expect(again.code, again.stderr).toBe(0);
    expect(readPid(t)).not.toBe(pid);
  });
});
