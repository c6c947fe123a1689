// How much the daemon reads from a machine's harness, and how long it waits: the guest (and a harness it
// took over) is untrusted, so no reply may make the daemon buffer without bound or wait forever.

/** Body of a non-2xx reply (the harness sends `{code, message}`: a few hundred bytes). */
export const MAX_ERROR_REPLY_BYTES = 64 * 1024;

/** Body of a JSON reply (health lists every running exec: ~100 bytes each). */
export const MAX_JSON_REPLY_BYTES = 1024 * 1024;

/** All response header names and values of one reply together (the harness sends four short ones). */
export const MAX_REPLY_HEADER_BYTES = 16 * 1024;

/** Header fields of one reply; more is refused by the HTTP/2 layer itself (ENHANCE_YOUR_CALM). */
export const MAX_REPLY_HEADER_PAIRS = 32;

/** Longest guest-supplied text (an error message, an exec id) the daemon passes on; longer is cut with a marker. */
export const MAX_GUEST_TEXT_CHARS = 1024;

/** A JSON call (health, signal, clock) without its own limit: the whole reply must arrive within this. */
export const DEFAULT_CALL_TIMEOUT_MS = 10_000;

/** An exec or attach: the harness's answer and the started (or exit) frame must arrive within this. */
export const EXEC_START_TIMEOUT_MS = 30_000;

/** How long a harness's HTTP/2 stack may take to acknowledge a PING once a call timed out (session-liveness.ts). */
export const SESSION_PING_TIMEOUT_MS = 2_000;
