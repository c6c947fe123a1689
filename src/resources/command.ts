// The `command` field: argv of the guest's main process (image ENTRYPOINT and CMD are ignored).
import { z } from 'zod';

export const commandSchema = z
  .array(z.string())
  .min(1, 'command must have at least the program to run')
  .refine((argv) => argv[0] !== '', { error: 'the program (first element) must not be empty' })
  .describe('Program and arguments, e.g. [python, -m, http.server, "80"]. Not run through a shell.');
