// kill -9 of aegisd at seeded points while a qemu instance saves its memory (an idle stop): while the daemon
// listens for qemu's migration stream, while the stream is being written to memory.snap.partial (also with the
// writer stalled), right after the file is renamed complete, after its meta is written, once qemu has quit, and
// while the next wake restores it. Every other round qemu is killed along with the daemon. Afterwards the store is
// valid, no qemu (or snapshot writer) of this home is left without an instance, and the instance serves again:
// either booted fresh or resumed from a snapshot that was complete when the daemon died, never from a partial
// one. The guest's boot_id (random per kernel boot) tells a resumed guest from a fresh one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionGuestKernel } from '../../src/vmm/qemu/guest-kernel.js';
import { which } from '../../src/util/which.js';
import { httpGet } from '../support/http-get.js';
import { waitFor, withTempHome, type TempHome } from '../support/temp-home.js';
import { alive, daemonPid, homeProcesses, integrityCheck, killDaemon, sleep, type InstanceView } from './support/crash.js';
import { LONG, seeded } from './support/seeded.js';

const hasQemu = which('qemu-system-x86_64') !== undefined;
if (!hasQemu) console.warn('skipping crash-snapshot: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)');

const ROUNDS = LONG ? 10 : 3;
/** Where in the save the daemon dies (see killPoint). */
const PHASES = ['listening', 'streaming', 'stalled', 'renamed', 'meta', 'quit', 'restoring'] as const;
type Phase = (typeof PHASES)[number];
/** A TCG boot takes 4-11 s on an idle host; a busy one can triple that. */
const WAKE_MS = 90_000;

describe.skipIf(!hasQemu)('crash during a memory snapshot save (qemu)', () => {
  let t: TempHome;
  let id: string;
  let router: string;

  beforeAll(async () => {
    t = withTempHome();
    t.env.AEGIS_BACKEND = 'qemu';
    t.env.AEGIS_WARM_MACHINES = '0';
    const shared = await provisionGuestKernel(path.join(os.tmpdir(), 'aegis-test-cache', 'qemu'));
    fs.mkdirSync(path.join(t.home, 'data', 'qemu'), { recursive: true });
    fs.symlinkSync(shared.dir, path.join(t.home, 'data', 'qemu', path.basename(shared.dir)));
    // Idle quickly: a second without traffic pauses the VM, two more stop it with its memory saved.
    fs.writeFileSync(path.join(t.home, 'config.yaml'), 'router:\n  port: 0\n  wakeTimeout: 2m\nidle:\n  pauseAfter: 1s\n  stopAfter: 2s\n');
    expect((await t.aegis(['up'], { timeoutMs: 60_000 })).code).toBe(0);
    router = (await t.api('GET', '/v1/status')).body.router as string;
    const inst = await t.api('POST', '/v1/instances', { command: ['httpd', '-f', '-p', '8080', '-h', '/etc'], expose: [8080] });
    expect(inst.status).toBe(201);
    id = inst.body.metadata.uid as string;
  }, 90_000);

  afterAll(async () => {
    await t?.dispose();
  }, 90_000);

  const stateDir = () => path.join(t.home, 'data', 'instances', id, 'rootfs');
  const exists = (f: string) => fs.existsSync(path.join(stateDir(), f));
  const instance = async () => (await t.api('GET', `/v1/instances/${id}`)).body as InstanceView;
  /** A request through the router: wakes the instance (resume, restore or boot) and checks what it serves. */
  const serve = async (what: string, timeoutMs = WAKE_MS) => {
    // Until the restarted daemon has taken the instance back (adopting a leftover qemu asks it over QMP),
    // the router does not know it yet: a 404 for that while.
    const r = await waitFor(
      async () => {
        const got = await Promise.race([httpGet(`${router}/os-release`, { headers: { 'x-aegis-app': id } }), sleep(timeoutMs).then(() => ({ status: 0, body: `no answer within ${timeoutMs} ms` }))]);
        return got.status === 404 ? undefined : got;
      },
      { what: `${what}: the router serves the instance`, timeoutMs: WAKE_MS },
    );
    expect({ status: r.status, body: r.body.slice(0, 200) }, `${what}; instance ${JSON.stringify((await instance()).status)}`).toMatchObject({ status: 200, body: expect.stringContaining('Aegis base') });
  };
  const bootId = async () => {
    const r = await t.aegis(['exec', id, '--', 'cat', '/proc/sys/kernel/random/boot_id'], { timeoutMs: WAKE_MS });
    expect(r, r.stderr).toMatchObject({ code: 0 });
    return r.stdout.trim();
  };
  /** The instance's log file: read from disk, so that a mark taken while no daemon runs splits it exactly. */
  const logFile = () => path.join(t.home, 'data', 'logs', `${id}.ndjson`);
  const logSize = () => fs.statSync(logFile(), { throwIfNoEntry: false })?.size ?? 0;
  const logSince = (mark: number) => fs.readFileSync(logFile()).subarray(mark).toString();
  const count = (text: string, re: RegExp) => text.match(new RegExp(re.source, 'g'))?.length ?? 0;

  /**
   * Waits for `phase` of the next idle save of the machine with pid `qemu`, then a seeded few ms more; true
   * when it got there (false: the save ended, or never began, before it).
   */
  const killPoint = async (phase: Phase, machineId: string, qemu: number, bytes: number): Promise<boolean> => {
    const sock = path.join(t.home, 'data', 'machines', machineId, 'jail', 'save.sock');
    const partial = path.join(stateDir(), 'memory.snap.partial');
    const reached = (): boolean | undefined => {
      switch (phase) {
        case 'listening':
          return fs.existsSync(sock) || undefined;
        case 'streaming':
        case 'stalled':
          return (fs.statSync(partial, { throwIfNoEntry: false })?.size ?? 0) >= bytes || (exists('memory.snap') ? false : undefined);
        case 'renamed':
          return exists('memory.snap') || undefined;
        case 'meta':
          return exists('memory.json') || undefined;
        case 'quit':
          return !alive(qemu) || undefined;
        case 'restoring':
          return undefined; // above
      }
    };
    if (phase === 'restoring') {
      // The save goes through; the next request starts a restore from it, and the daemon dies while qemu loads it.
      await waitFor(async () => (await instance()).status.state === 'stopped' && exists('memory.json'), { what: 'the idle save done', timeoutMs: 60_000 });
      void httpGet(`${router}/os-release`, { headers: { 'x-aegis-app': id } }).catch(() => undefined);
      const restoring = await waitFor(() => homeProcesses(t.home, [daemonPid(t.home)!]).find((p) => p.comm.startsWith('qemu-system') && p.pid !== qemu), { what: 'a qemu restoring the snapshot', timeoutMs: 30_000 });
      await sleep(bytes % 400);
      return alive(restoring.pid) && exists('memory.json');
    }
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = reached();
      if (r !== undefined) return r;
      if (Date.now() > deadline) throw new Error(`the idle save never reached ${phase}`);
      await sleep(1);
    }
  };

  it('never restores a partial snapshot, and leaves no machine process behind', async () => {
    const rng = seeded('crash-snapshot');
    const machineKillOffset = rng.int(0, 1);
    const points: string[] = [];
    let restoredAfterKill = 0;
    let bootedAfterKill = 0;
    let adoptedAfterKill = 0;
    for (let round = 0; round < ROUNDS; round++) {
      await serve(`round ${round}: before the save`);
      const before = await bootId();
      const running = await instance();
      const machineId = running.status.machineId!;
      const qemu = homeProcesses(t.home, [daemonPid(t.home)!]).find((p) => p.comm.startsWith('qemu-system'))?.pid;
      expect(qemu, `round ${round}: the instance's qemu`).toBeDefined();

      const phase = rng.pick(PHASES);
      const bytes = rng.int(0, 4 * 1024 * 1024);
      const extraMs = rng.int(0, 20);
      const hit = await killPoint(phase, machineId, qemu!, bytes);
      if (extraMs) await sleep(extraMs);
      // 'stalled': the snapshot writer (the daemon's zstd) stops reading first, so qemu's migration is still
      // under way when the next daemon adopts the machine; it reads again once the instance serves.
      const writer = phase === 'stalled' && hit ? homeProcesses(t.home, [daemonPid(t.home)!]).find((p) => !p.comm.startsWith('qemu-system')) : undefined;
      if (writer) process.kill(writer.pid, 'SIGSTOP');
      await killDaemon(t.home);
      // Whatever the dead daemon logged (a restore it finished before the kill) comes before this mark.
      const logMark = logSize();
      // Every other round the machine dies with the daemon (a host crash, the OOM killer): nothing to re-adopt,
      // so the next daemon boots the instance and must tell a complete snapshot from a partial one on disk.
      const withMachine = (round + machineKillOffset) % 2 === 1;
      if (withMachine) {
        const qemus = homeProcesses(t.home).filter((p) => p.comm.startsWith('qemu-system'));
        for (const p of qemus) process.kill(p.pid, 'SIGKILL');
        await waitFor(() => qemus.every((p) => !alive(p.pid)), { what: 'the qemu processes gone' });
      }
      const complete = exists('memory.snap') && exists('memory.json');
      const what = `round ${round}: kill at ${phase}${phase === 'streaming' ? ` >= ${bytes} B` : phase === 'restoring' ? ` after ${bytes % 400} ms` : ''} +${extraMs} ms${hit ? '' : ' (the save was past it)'}${withMachine ? ', qemu killed too' : ''}; snapshot ${complete ? 'complete' : exists('memory.snap.partial') ? 'partial' : 'absent'}`;
      points.push(`${phase}${hit ? '' : '(past)'}+${extraMs}ms${withMachine ? '+qemu' : ''}:${complete ? 'complete' : 'incomplete'}`);
      expect(integrityCheck(t.home), what).toBe('ok');

      expect((await t.aegis(['up'], { timeoutMs: 60_000 })).code, what).toBe(0);
      // The router took a fresh port (port: 0).
      router = (await t.api('GET', '/v1/status')).body.router as string;
      await serve(what);
      if (writer) {
        process.kill(writer.pid, 'SIGCONT');
        await waitFor(() => !alive(writer.pid), { what: `${what}: the dead daemon's snapshot writer ends`, timeoutMs: 30_000 }).catch(() => undefined);
        await serve(`${what}, the dead daemon's writer read on`, 20_000);
      }
      const after = await bootId();
      const text = logSince(logMark);
      // A snapshot with its meta is complete: qemu never fails to load one (that would be a partial trusted).
      expect(count(text, /memory snapshot not restored/), `${what}: ${text}`).toBe(0);
      const restored = count(text, /resumed from its memory snapshot/) > 0;
      // With no machine left to adopt, a complete snapshot is resumed and anything less means a fresh boot.
      if (withMachine) expect(restored, `${what}: ${text}`).toBe(complete);
      // A restore cut off with qemu still loading keeps its snapshot: that machine is stopped (no instance claims
      // it yet) and the next boot restores again. (Only a kill in the ~1 ms between the dead daemon's `cont` and
      // its discarding the consumed snapshot would boot fresh instead.)
      if (phase === 'restoring' && !withMachine && complete) expect(restored, `${what}: the saved memory was lost: ${text}`).toBe(true);
      if (restored) {
        expect(complete, `${what}: restored a snapshot that was not complete when the daemon died`).toBe(true);
        expect(after, `${what}: a restored guest is the one that was saved`).toBe(before);
        restoredAfterKill++;
      } else if (after === before) {
        // The same kernel without a restore: the qemu that was saving was re-adopted and resumed.
        expect(text, what).toMatch(/re-adopted/);
        adoptedAfterKill++;
      } else bootedAfterKill++;

      console.log(`[faults] crash-snapshot: ${what}: ${restored ? 'restored' : after === before ? 're-adopted' : 'booted fresh'}`);
      // One qemu, the instance's own; nothing else (a snapshot writer of the dead daemon) holds the home's files.
      const inst = await instance();
      const procs = homeProcesses(t.home, [daemonPid(t.home)!]);
      const qemus = procs.filter((p) => p.comm.startsWith('qemu-system'));
      expect(qemus.map((p) => p.machineId), `${what}: ${JSON.stringify(procs)}`).toEqual([inst.status.machineId]);
      expect(procs.filter((p) => !p.comm.startsWith('qemu-system')), what).toEqual([]);
      // No copy of guest RAM is left lying about beside the running machine.
      expect(fs.readdirSync(stateDir()).filter((f) => f.startsWith('memory.')), what).toEqual([]);
    }
    console.log(`[faults] crash-snapshot: ${ROUNDS} kills at ${points.join(', ')}; afterwards ${restoredAfterKill} restored, ${adoptedAfterKill} re-adopted, ${bootedAfterKill} booted fresh`);

    await t.api('DELETE', `/v1/instances/${id}`);
    await waitFor(() => homeProcesses(t.home, [daemonPid(t.home)!]).length === 0, { what: 'no machine process left', timeoutMs: 45_000 });
  }, LONG ? 900_000 : 180_000);
});
