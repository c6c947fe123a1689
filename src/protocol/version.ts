// The control-channel protocol version and the rule deciding whether two sides can talk.

/**
 * Major version of the control-channel wire format. Bump it only for an incompatible change
 * (a removed route, a changed frame layout, a field whose meaning changed). Adding an optional
 * field or a new route keeps the major: old peers ignore what they do not know, unless ignoring it is
 * unsafe: 2 added ExecRequest.user, which a version-1 harness would ignore and run the command as root.
 */
export const PROTOCOL_VERSION = 2;

/** Request header carrying the client's version on every call; the harness echoes its own in replies. */
export const PROTOCOL_HEADER = 'aegis-protocol';

/** Parses a version header value (`1`, or `1.3` where only the major counts); undefined when malformed. */
export function parseProtocolVersion(value: unknown): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text === 'number') return Number.isInteger(text) && text >= 0 ? text : undefined;
  if (typeof text !== 'string') return undefined;
  const match = /^(\d{1,6})(?:\.\d{1,6})?$/.exec(text.trim());
  return match ? Number(match[1]) : undefined;
}

/** Two sides are compatible when they speak the same major version. */
export function isCompatibleVersion(local: number, remote: number | undefined): boolean {
  return remote !== undefined && local === remote;
}

/** The one-line message both sides use when the majors differ. */
export function versionMismatchMessage(host: number | undefined, harness: number): string {
  const hostText = host === undefined ? 'no version' : `version ${host}`;
  return `aegis control protocol mismatch: host speaks ${hostText}, harness speaks version ${harness}; ` +
    'rebuild the harness bundle and restart the machine';
}
