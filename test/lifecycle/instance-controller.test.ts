// The Instance controller's transitions over time, driven by hand on a fake clock: each pass takes the step that
// is due and says when to look again (requeueAfter), with no timer polling the instances. The store, the
// supervisor, the runtime and the control channel are real; the backend's machines are harness processes on
// the host (fake-backend.ts), so a pause, a stop and a failed boot are seen in its machine table.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { aegisPaths } from '../../src/config/paths.js';
import { ImageStore } from '../../src/images/image-store.js';
import { CPU_WINDOW_MS } from '../../src/lifecycle/idle-policy.js';
import { InstanceSupervisor } from '../../src/lifecycle/instance-supervisor.js';
import { InstanceLogs } from '../../src/logs/instance-log.js';
import { finalizersFor } from '../../src/model/metadata-keys.js';
import { InstanceReconciler } from '../../src/reconciler/controllers/instance.js';
import type { InstanceStatus } from '../../src/resources/instance.js';
import { Store } from '../../src/store/store.js';
import { buildHarness, waitFor } from '../harness/harness-fixture.js';
import { FakeBackend, fakeHost } from './fake-backend.js';

const PAUSE_AFTER_MS = 10_000;
const STOP_AFTER_MS = 60_000;

let bundle: string;
beforeAll(async () => {
  bundle = await buildHarness();
}, 30_000);

describe('Instance controller', () => {
  let home: string;
  let store: Store;
  let backend: FakeBackend;
  let supervisor: InstanceSupervisor;
  let controller: InstanceReconciler;
  let logs: InstanceLogs;
  let now: number;

  beforeEach(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-lifecycle-'));
    const paths = aegisPaths({ AEGIS_HOME: home });
    store = Store.open(paths.db, paths.keyFile);
    backend = new FakeBackend(bundle);
    const host = fakeHost(backend);
    logs = new InstanceLogs(paths.logs);
    now = 1_000_000;
    supervisor = newSupervisor();
    controller = new InstanceReconciler({ store, supervisor, host: async () => host, routerUrl: undefined });
  });

  /** A supervisor over this test's store and backend, as a daemon makes one at start. */
  const newSupervisor = () => {
    const paths = aegisPaths({ AEGIS_HOME: home });
    const host = fakeHost(backend);
    return new InstanceSupervisor({
      store,
      images: new ImageStore(paths.images),
      host: async () => host,
      logs,
      ports: { host: '127.0.0.1', wakeTimeoutMs: 5_000 },
      workspacesDir: paths.workspaces,
      instancesDir: paths.instances,
      idleDefaults: { pauseAfterMs: PAUSE_AFTER_MS, stopAfterMs: STOP_AFTER_MS },
      now: () => now,
    });
  };

  afterEach(async () => {
    await supervisor.close();
    await backend.stopAll();
    logs.close();
    store.close();
    fs.rmSync(home, { recursive: true, force: true });
  });

  const create = (name = 'web') =>
    store.create('Instance', { name, spec: { command: ['sleep', '600'], expose: [8080] }, source: 'test', finalizers: finalizersFor('Instance') });
  const status = (name = 'web') => store.mustGet<Record<string, unknown>, InstanceStatus>('Instance', name).status;
  const runtimeOf = (name = 'web') => supervisor.runtime(store.mustGet('Instance', name).metadata.uid)!;
  /** Runs passes until the runtime is running (the boot is the runtime's, in real time). */
  const running = async (name = 'web') => {
    await waitFor(() => runtimeOf(name)?.state === 'running', { what: 'running' });
    return controller.reconcile(name);
  };

  it('routes to an instance the store had when the supervisor began, waiting for it to be taken up instead of a 404', async () => {
    create();
    // A second supervisor over the same store: a daemon just restarted, its first reconcile not done yet.
    const later = newSupervisor();
    const host = fakeHost(backend);
    try {
      const uid = store.mustGet('Instance', 'web').metadata.uid;
      expect(later.directory.byApp('web')).toEqual({ instance: uid, app: 'web', port: 8080 });
      const ac = new AbortController();
      let settled = false;
      const soon = later.runtimeSoon(uid, ac.signal).finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 100));
      expect(settled).toBe(false);
      await new InstanceReconciler({ store, supervisor: later, host: async () => host, routerUrl: undefined }).reconcile('web');
      expect(await soon).toBe(later.runtime(uid));
      // Taken up once: an instance unknown to it is not waited for.
      expect(await later.runtimeSoon('inst-none', ac.signal)).toBeUndefined();
    } finally {
      await later.close();
    }
  });

  it('pauses an idle instance when pauseAfter has passed and stops it stopAfter later, looking again only when something is due', async () => {
    create();
    await controller.reconcile('web');
    // Booted: come back for the CPU sample that opens the window before the pause.
    expect(await running()).toEqual({ requeueAfterMs: PAUSE_AFTER_MS - CPU_WINDOW_MS });
    expect(status()).toMatchObject({ state: 'running', observedGeneration: 1 });
    const machine = backend.live()[0]!;

    now += PAUSE_AFTER_MS - CPU_WINDOW_MS;
    expect(await controller.reconcile('web')).toEqual({ requeueAfterMs: CPU_WINDOW_MS });
    expect(machine.state()).toBe('running');
    now += CPU_WINDOW_MS;
    await controller.reconcile('web');
    expect(machine.state()).toBe('paused');
    expect(status()).toMatchObject({ state: 'paused', conditions: [expect.objectContaining({ type: 'Ready', status: 'True', reason: 'Idle' })] });

    // Paused: the next look is when the stop is due.
    expect(await controller.reconcile('web')).toEqual({ requeueAfterMs: STOP_AFTER_MS });
    now += STOP_AFTER_MS - 1;
    expect(await controller.reconcile('web')).toEqual({ requeueAfterMs: 1 });
    now += 1;
    await controller.reconcile('web');
    expect(machine.state()).toBe('exited');
    expect(backend.live()).toEqual([]);
    expect(status()).toMatchObject({ state: 'stopped', conditions: [expect.objectContaining({ status: 'Unknown', reason: 'Idle', message: 'stopped after 60 s paused' })] });
    // Stopped: nothing is due until a request wakes it.
    expect(await controller.reconcile('web')).toBeUndefined();
  });

  it('keeps an instance busy on its CPU, or with a connection open, running past pauseAfter', async () => {
    create();
    await controller.reconcile('web');
    await running();
    const machine = backend.live()[0]!;
    now += PAUSE_AFTER_MS - CPU_WINDOW_MS;
    await controller.reconcile('web');
    // 40% of a CPU across the window: a job working without any connection.
    machine.cpuMicros += CPU_WINDOW_MS * 1000 * 0.4;
    now += CPU_WINDOW_MS;
    expect(await controller.reconcile('web')).toEqual({ requeueAfterMs: PAUSE_AFTER_MS - CPU_WINDOW_MS });
    expect(machine.state()).toBe('running');
    expect(Date.parse(status().lastActiveAt!)).toBe(now);

    // An open connection holds it however long; the status is brought up to date meanwhile.
    runtimeOf().connectionOpened();
    now += 10 * PAUSE_AFTER_MS;
    expect(await controller.reconcile('web')).toEqual({ requeueAfterMs: 2_000 });
    expect(machine.state()).toBe('running');
    expect(status().connections).toBe(1);
    // Closed: idle from then on.
    runtimeOf().connectionClosed();
    expect(await controller.reconcile('web')).toEqual({ requeueAfterMs: PAUSE_AFTER_MS - CPU_WINDOW_MS });
    expect(status().connections).toBe(0);
  });

  it('counts a reader following the log as activity while it follows, and idles from when it left', async () => {
    create();
    await controller.reconcile('web');
    await running();
    const uid = store.mustGet('Instance', 'web').metadata.uid;
    const follow = new AbortController();
    const reading = (async () => {
      for await (const _ of logs.read(uid, { follow: true, signal: follow.signal })) void _;
    })().catch(() => undefined);
    await waitFor(() => logs.followers(uid) === 1, { what: 'the follower' });
    now += 10 * PAUSE_AFTER_MS;
    expect(await controller.reconcile('web')).toEqual({ requeueAfterMs: 2_000 });
    expect(runtimeOf().state).toBe('running');
    follow.abort();
    await reading;
    await waitFor(() => logs.followers(uid) === 0, { what: 'the follower to leave' });
    now += 1_000;
    // Idle since the last look that saw it following, not since the boot.
    expect(await controller.reconcile('web')).toEqual({ requeueAfterMs: PAUSE_AFTER_MS - 1_000 - CPU_WINDOW_MS });
    expect(runtimeOf().state).toBe('running');
  });

  it('does not carry out a pause or a stop decided before a request came in', async () => {
    create();
    await controller.reconcile('web');
    await running();
    const runtime = runtimeOf();
    now += PAUSE_AFTER_MS;
    const decided = runtime.idleFacts(false, true, 'sandbox')!;
    // A request comes and goes before the transition's turn.
    now += 1;
    runtime.connectionOpened();
    runtime.connectionClosed();
    await runtime.pause('paused after 10 s without traffic', decided);
    await runtime.stopIdle('stopped', false, decided);
    expect(runtime.state).toBe('running');
    expect(backend.live()).toHaveLength(1);
    expect(backend.live()[0]!.state()).toBe('running');
  });

  it('tries a failed boot again after its back-off, doubling, until it runs', async () => {
    backend.failNextStarts = 2;
    create();
    await controller.reconcile('web');
    await waitFor(() => runtimeOf().state === 'failed', { what: 'the first boot to fail' });
    expect(await controller.reconcile('web')).toEqual({ requeueAfterMs: 1_000 });
    expect(status()).toMatchObject({ state: 'failed', conditions: [expect.objectContaining({ status: 'False', reason: 'StartFailed' })] });
    // Not yet: the pass only says how long is left.
    now += 400;
    expect(await controller.reconcile('web')).toEqual({ requeueAfterMs: 600 });
    now += 600;
    await controller.reconcile('web');
    await waitFor(() => runtimeOf().state === 'failed', { what: 'the second boot to fail' });
    expect(await controller.reconcile('web')).toEqual({ requeueAfterMs: 2_000 });
    now += 2_000;
    await controller.reconcile('web');
    await running();
    expect(backend.live()).toHaveLength(1);
    expect(status().state).toBe('running');
  });

  it('marks an instance whose plan cannot boot failed with the reason, and tries again only once its app is edited', async () => {
    // The kit gives no command and neither does the app: no boot can help until one of them is edited.
    store.create('Kit', { name: 'bare', spec: { version: '1', image: 'busybox:1.36' }, source: 'test' });
    store.create('App', { name: 'web', spec: { kit: 'bare', expose: [8080] }, source: 'test' });
    store.create('Instance', { name: 'web', spec: { app: 'web' }, source: 'test', finalizers: finalizersFor('Instance') });
    await controller.reconcile('web');
    await waitFor(() => runtimeOf().state === 'failed', { what: 'the boot to fail' });
    expect(await controller.reconcile('web')).toBeUndefined();
    expect(status()).toMatchObject({
      state: 'failed',
      observedGeneration: 1,
      conditions: [expect.objectContaining({ type: 'Ready', status: 'False', reason: 'InvalidPlan', message: 'app "web" has no command: give it one, or use a kit that has one' })],
    });
    // No back-off, no retry: an hour later nothing is due, and a request is refused at once without a boot.
    now += 3_600_000;
    expect(await controller.reconcile('web')).toBeUndefined();
    await expect(runtimeOf().wake()).rejects.toThrow(/has no command/);
    expect(runtimeOf().state).toBe('failed');
    expect(backend.live()).toEqual([]);

    // The app is edited: the next pass boots again (and gets as far as the missing release, which is retried).
    store.update('App', 'web', { spec: { kit: 'bare', expose: [8080], command: ['sleep', '600'] } });
    await controller.reconcile('web');
    await waitFor(() => runtimeOf().status.reason === 'StartFailed', { what: 'the second boot to fail' });
    await controller.reconcile('web');
    expect(status()).toMatchObject({ state: 'failed', conditions: [expect.objectContaining({ status: 'False', reason: 'StartFailed', message: expect.stringMatching(/has no published release/) })] });
    expect(await controller.reconcile('web')).toEqual({ requeueAfterMs: expect.any(Number) });
  });

  it('stops the machine and lets go of the instance when it is deleted', async () => {
    create();
    await controller.reconcile('web');
    await running();
    const uid = store.mustGet('Instance', 'web').metadata.uid;
    expect(store.delete('Instance', 'web')).toBe('terminating');
    await controller.reconcile('web');
    expect(store.get('Instance', 'web')).toBeUndefined();
    expect(backend.live()).toEqual([]);
    expect(supervisor.runtime(uid)).toBeUndefined();
  });

  it('answers the router\'s App-name questions from memory until an App changes', async () => {
    expect(supervisor.appNamed('shop')).toBeUndefined();
    const app = store.create('App', { name: 'shop', spec: { image: 'busybox:1.36', command: ['sleep', '600'], expose: [8080] }, source: 'test' });
    // A new App named like an instance takes that name over at once (the router must not route it elsewhere).
    expect(supervisor.appNamed('shop')).toBe('shop');
    expect(supervisor.appNamed(app.metadata.uid)).toBe('shop');
    store.delete('App', app.metadata.uid);
    expect(supervisor.appNamed('shop')).toBeUndefined();
  });
});
