// The handshake that starts every host connection on a virtio-serial port (qemu's control channel).
//
// A port is one byte stream that outlives host connections: bytes the guest wrote after the previous host
// left (a GOAWAY, the tail of a frame) wait in the port and reach whoever connects next, and the guest
// may not notice a quick reconnect at all. So the host opens with HELLO + a nonce, the guest drops the
// session it had and answers READY + the same nonce as the first bytes of the new one, and the host
// discards everything before that answer. 0xff first: no HTTP/2 frame or preface starts with it.

export const PORT_HELLO = Buffer.from('\xffAEGIS-HELLO ', 'latin1');
export const PORT_READY = Buffer.from('\xffAEGIS-READY ', 'latin1');
/** Longest nonce line either side accepts (prefix, nonce, newline). */
export const PORT_SYNC_MAX_LINE = 64;

/** The nonce of a HELLO line at the start of `chunk` and the bytes after it, or undefined if it is no HELLO. */
export function parsePortHello(chunk: Buffer): { nonce: string; rest: Buffer } | undefined {
  if (!chunk.subarray(0, PORT_HELLO.length).equals(PORT_HELLO)) return undefined;
  const nl = chunk.indexOf(0x0a, PORT_HELLO.length);
  if (nl < 0 || nl > PORT_SYNC_MAX_LINE) return undefined;
  return { nonce: chunk.subarray(PORT_HELLO.length, nl).toString('latin1'), rest: chunk.subarray(nl + 1) };
}

export const portHelloLine = (nonce: string) => Buffer.concat([PORT_HELLO, Buffer.from(`${nonce}\n`, 'latin1')]);
export const portReadyLine = (nonce: string) => Buffer.concat([PORT_READY, Buffer.from(`${nonce}\n`, 'latin1')]);
