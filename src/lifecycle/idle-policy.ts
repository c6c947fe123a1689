// When an idle instance pauses and stops: a pure function of what the instance is doing and the time, so the
// Instance controller can act on it and schedule its next look (requeueAfter) instead of polling, and tests
// can run it on a fake clock. Pause after `pauseAfter` with no connection and no work (execs, log readers);
// stop after `stopAfter` paused; a backend that cannot pause runs on for both before it stops.
import type { InstanceState } from '../resources/instance.js';
import type { IdleTimes } from './instance-plan.js';

/**
 * The CPU heartbeat's window: a running instance is sampled this long before its pause is due and again
 * when it is due; above the noise floor in between, it is busy (a job without connections) and stays up.
 */
export const CPU_WINDOW_MS = 500;

export interface IdleFacts {
  state: InstanceState;
  /** Open connections, execs or log readers right now. */
  active: boolean;
  /** Clock time of the last activity (a connection, a request, CPU above the noise floor). */
  lastActiveAt: number;
  /** Clock time the machine was paused (state paused). */
  pausedAt: number;
  idle: IdleTimes;
  canPause: boolean;
  /** The backend's name, for the message of a backend that cannot pause. */
  backend: string;
}

export type IdleDecision =
  | { do: 'pause'; message: string }
  | { do: 'stop'; suspend: boolean; message: string }
  /** Nothing to do now; look again after `checkInMs` (absent: only an event can change anything). */
  | { do: 'wait'; checkInMs?: number };

const seconds = (ms: number) => Math.round(ms / 1000);

export function idleDecision(f: IdleFacts, now: number): IdleDecision {
  if (f.active) return { do: 'wait' };
  if (f.state === 'paused') {
    const due = f.pausedAt + f.idle.stopAfterMs;
    if (now >= due) return { do: 'stop', suspend: true, message: `stopped after ${seconds(f.idle.stopAfterMs)} s paused` };
    return { do: 'wait', checkInMs: due - now };
  }
  if (f.state !== 'running') return { do: 'wait' };
  const idleFor = f.canPause ? f.idle.pauseAfterMs : f.idle.pauseAfterMs + f.idle.stopAfterMs;
  const due = f.lastActiveAt + idleFor;
  if (now >= due) {
    if (f.canPause) return { do: 'pause', message: `paused after ${seconds(idleFor)} s without traffic` };
    return { do: 'stop', suspend: false, message: `stopped after ${seconds(idleFor)} s without traffic (the ${f.backend} backend cannot pause)` };
  }
  // Come back once for the CPU sample that opens the window, then when the pause is due.
  const left = due - now;
  return { do: 'wait', checkInMs: left > CPU_WINDOW_MS ? left - CPU_WINDOW_MS : left };
}
