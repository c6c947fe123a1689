// The user a command runs as, written like an image's USER or docker's --user: `uid`, `uid:gid`, `name`
// or `name:group`. Names are looked up in the guest's /etc/passwd and /etc/group; numbers need no files.

export interface UserSpec {
  /** A uid (all digits) or a user name. */
  user: string;
  /** A gid (all digits) or a group name; absent = the user's primary group (or 0, as docker does). */
  group?: string;
}

/** Highest id accepted: Node's spawn takes uid and gid as signed 32-bit integers. */
export const MAX_ID = 2 ** 31 - 1;

export const USER_SPEC_RULE = 'a uid or user name, optionally followed by :gid or :group (e.g. 1000, 1000:1000, app, app:staff)';

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;

function validPart(part: string): boolean {
  return /^\d{1,10}$/.test(part) ? Number(part) <= MAX_ID : NAME.test(part);
}

/** The parts of `text`, or undefined when it is not of the form above. */
export function parseUserSpec(text: string): UserSpec | undefined {
  const parts = text.split(':');
  if (parts.length > 2 || !parts.every(validPart)) return undefined;
  return parts.length === 2 ? { user: parts[0]!, group: parts[1]! } : { user: parts[0]! };
}

export const isNumericId = (part: string): boolean => /^\d+$/.test(part);
