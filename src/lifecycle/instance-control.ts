// What a person may do to a serving instance by hand (the dashboard's buttons): pause, resume, stop, restart.
// None of it outlasts the instance's nature: a paused or stopped instance still wakes on its next connection,
// and the idle policy goes on deciding from there. Deleting is a store write (DELETE /v1/instances/{id}).
import { conflict, notSupported } from '../errors/codes.js';
import { WakeRefusedError, type InstanceRuntime } from './instance-runtime.js';
import type { MachineHost } from '../vmm/machine-host.js';

export const INSTANCE_ACTIONS = ['pause', 'resume', 'stop', 'restart'] as const;
export type InstanceAction = (typeof INSTANCE_ACTIONS)[number];

/** Carries out `action` on the instance `uid` (its runtime undefined: this daemon does not run it). */
export async function controlInstance(uid: string, runtime: InstanceRuntime | undefined, action: InstanceAction, host: () => Promise<MachineHost>): Promise<void> {
  if (!runtime) throw conflict(`instance ${uid} is not running in this daemon`);
  try {
    await carryOut(uid, runtime, action, host);
  } catch (err) {
    // A boot held back (crash back-off) or refused: the caller is told why, as the router tells a request.
    if (err instanceof WakeRefusedError) throw conflict(err.message);
    throw err;
  }
}

async function carryOut(uid: string, runtime: InstanceRuntime, action: InstanceAction, host: () => Promise<MachineHost>): Promise<void> {
  const asked = 'asked for by hand';
  switch (action) {
    case 'pause': {
      const { backend } = await host();
      if (!backend.capabilities.pauseResume) throw notSupported(`the ${backend.name} backend cannot pause a machine`);
      if (!(await runtime.pauseNow(asked))) throw conflict(`instance ${uid} is ${runtime.state}: only a running instance can be paused`);
      return;
    }
    case 'resume':
      if (runtime.state !== 'paused') throw conflict(`instance ${uid} is ${runtime.state}: only a paused instance can be resumed`);
      await runtime.wake();
      return;
    case 'stop':
      await runtime.stopNow(asked);
      return;
    case 'restart':
      // A stopped or failed instance has no machine to replace: it boots.
      if (runtime.state === 'running' || runtime.state === 'paused') await runtime.restart(asked);
      else await runtime.wake();
      return;
  }
}
