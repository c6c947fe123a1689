// Unit tests for ControllerManager: per-kind registration, routing of keys, and start/stop of all controllers.

import { describe, expect, it } from 'vitest';
import { Controller } from '../../../src/reconciler/controller.js';
import { ControllerManager } from '../../../src/reconciler/manager.js';
import { FakeClock, flush } from './fake-clock.js';

function recording(clock: FakeClock, options: { hang?: boolean; keys?: string[] } = {}) {
  const seen: string[] = [];
  const controller = new Controller<string>({
    name: 'test',
    clock,
    onError: () => {},
    listKeys: options.keys ? () => options.keys! : undefined,
    reconcile: async (key) => {
      seen.push(key);
      if (options.hang) await new Promise<void>(() => {});
    },
  });
  return { controller, seen };
}

describe('ControllerManager', () => {
  it('rejects a second controller for the same kind', () => {
    const clock = new FakeClock();
    const manager = new ControllerManager();
    manager.register('App', recording(clock).controller);
    expect(() => manager.register('App', recording(clock).controller)).toThrow(/already registered/);
  });

  it('routes a key to the controller of its kind and ignores kinds without one', async () => {
    const clock = new FakeClock();
    const manager = new ControllerManager();
    const apps = recording(clock);
    const instances = recording(clock);
    manager.register('App', apps.controller);
    manager.register('Instance', instances.controller);
    manager.start();
    expect(manager.enqueue('App', 'web')).toBe(true);
    expect(manager.enqueue('Instance', 'web-1')).toBe(true);
    expect(manager.enqueue('Secret', 'token')).toBe(false);
    await flush();
    expect(apps.seen).toEqual(['web']);
    expect(instances.seen).toEqual(['web-1']);
  });

  it('start runs every controller, including its startup resync, and a late registration starts too', async () => {
    const clock = new FakeClock();
    const manager = new ControllerManager();
    const apps = recording(clock, { keys: ['a', 'b'] });
    manager.register('App', apps.controller);
    manager.start();
    const tasks = recording(clock, { keys: ['t'] });
    manager.register('Task', tasks.controller);
    await flush();
    expect(apps.seen).toEqual(['a', 'b']);
    expect(tasks.seen).toEqual(['t']);
    expect(() => manager.start()).toThrow(/already running/);
  });

  it('stop resolves true when every controller drains', async () => {
    const clock = new FakeClock();
    const manager = new ControllerManager();
    manager.register('App', recording(clock, { keys: ['a'] }).controller);
    manager.register('Task', recording(clock, { keys: ['t'] }).controller);
    manager.start();
    await flush();
    expect(await manager.stop(1000)).toBe(true);
    expect(() => manager.register('Kit', recording(clock).controller)).toThrow(/stopped/);
  });

  it('stop resolves false at the shared deadline when one controller hangs', async () => {
    const clock = new FakeClock();
    const manager = new ControllerManager();
    manager.register('App', recording(clock, { keys: ['a'] }).controller);
    manager.register('Instance', recording(clock, { keys: ['i'], hang: true }).controller);
    manager.start();
    await flush();
    let result: boolean | undefined;
    void manager.stop(2000).then((r) => (result = r));
    await clock.tick(1999);
    expect(result).toBeUndefined();
    await clock.tick(1);
    expect(result).toBe(false);
  });

  it("a write wakes its kind's controller, except a status-only one (a controller's own report)", async () => {
    const clock = new FakeClock();
    const manager = new ControllerManager();
    const apps = recording(clock);
    manager.register('App', apps.controller);
    manager.start();
    manager.written({ type: 'created', kind: 'App', name: 'a', uid: 'app-1' });
    manager.written({ type: 'updated', kind: 'App', name: 'b', uid: 'app-2', change: 'spec' });
    manager.written({ type: 'updated', kind: 'App', name: 'c', uid: 'app-3', change: 'metadata' });
    manager.written({ type: 'updated', kind: 'App', name: 'd', uid: 'app-4', change: 'status' });
    manager.written({ type: 'deleted', kind: 'App', name: 'e', uid: 'app-5' });
    await flush();
    expect(apps.seen).toEqual(['a', 'b', 'c', 'e']);
  });

  it('routes writes of a watched kind to the keys the watch names, status writes only where asked', async () => {
    const clock = new FakeClock();
    const manager = new ControllerManager();
    const instances = recording(clock);
    manager.register('Instance', instances.controller, {
      watches: [
        { kind: 'App', keys: (e) => [`${e.name}-1`, `${e.name}-2`] },
        { kind: 'Kit', keys: () => ['k'], statusWrites: false },
      ],
    });
    manager.start();
    manager.written({ type: 'updated', kind: 'App', name: 'web', uid: 'app-1', change: 'status' });
    manager.written({ type: 'updated', kind: 'Kit', name: 'kit', uid: 'kit-1', change: 'status' });
    manager.written({ type: 'updated', kind: 'Secret', name: 's', uid: 'sec-1', change: 'spec' });
    await flush();
    expect(instances.seen).toEqual(['web-1', 'web-2']);
    manager.written({ type: 'updated', kind: 'Kit', name: 'kit', uid: 'kit-1', change: 'spec' });
    await flush();
    expect(instances.seen).toEqual(['web-1', 'web-2', 'k']);
  });

  it('subscribes a controller to its events at registration and unsubscribes at stop', async () => {
    const clock = new FakeClock();
    const manager = new ControllerManager();
    const tasks = recording(clock);
    const listeners = new Set<(key: string) => void>();
    manager.register('Task', tasks.controller, {
      events: (enqueue) => {
        listeners.add(enqueue);
        return () => listeners.delete(enqueue);
      },
    });
    manager.start();
    for (const l of listeners) l('t1');
    await flush();
    expect(tasks.seen).toEqual(['t1']);
    await manager.stop(1000);
    expect(listeners.size).toBe(0);
  });
});
