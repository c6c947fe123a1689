// The `idle` policy of served workloads: when an idle instance is paused and when it is stopped.
import { z } from 'zod';
import { durationSchema } from './duration.js';

export const idlePolicySchema = z
  .strictObject({
    pauseAfter: durationSchema.optional().describe('Pause after this long with no connection or activity (daemon default when absent).'),
    stopAfter: durationSchema.optional().describe('Stop after being paused this long (daemon default when absent).'),
  })
  .describe('Idle policy: running → paused → stopped; a connection wakes it again.');

export type IdlePolicy = z.infer<typeof idlePolicySchema>;
