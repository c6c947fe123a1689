// The `user` field of App, Task and Instance: who the command runs as inside the machine.
import { z } from 'zod';
import { parseUserSpec, USER_SPEC_RULE } from '../protocol/user-spec.js';
import { quoteInput } from '../util/quote-input.js';

export const runAsUserSchema = z
  .string()
  .refine((u) => parseUserSpec(u) !== undefined, { error: (iss) => `${quoteInput(iss.input)} is not ${USER_SPEC_RULE}` })
  .describe(
    "User to run the command as: `uid`, `uid:gid`, `name` or `name:group` (names from the image's /etc/passwd and /etc/group). " +
      "Absent = the image's USER, else root; `0` runs as root even when the image names another user.",
  );
