// The error every control-channel call rejects with: a harness error code or a transport failure.
import type { ErrorCode } from '../../protocol/messages.js';

/** PROTOCOL_VIOLATION: the harness sent something no honest harness sends; its session was ended (see protocol-violation.ts). */
export type ChannelErrorCode = ErrorCode | 'TIMEOUT' | 'CONNECTION_LOST' | 'BAD_RESPONSE' | 'PROTOCOL_VIOLATION';

/** Message of an exec whose machine connection went away before it reported an exit. */
export const CONNECTION_LOST_MESSAGE = 'machine connection lost';

export class ChannelError extends Error {
  readonly code: ChannelErrorCode;
  /** HTTP status of the harness's reply, when there was one. */
  readonly status: number | undefined;

  constructor(code: ChannelErrorCode, message: string, status?: number) {
    super(message);
    this.name = 'ChannelError';
    this.code = code;
    this.status = status;
  }
}

export function connectionLost(): ChannelError {
  return new ChannelError('CONNECTION_LOST', CONNECTION_LOST_MESSAGE);
}
