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
});
