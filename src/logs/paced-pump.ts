// Feeds a machine's output to a synchronous log writer a bounded slice per turn of the event loop.
// A line costs the log far more than it costs the guest (a JSON entry each): a guest printing nothing but
// newlines would otherwise hold the daemon's event loop for seconds per output frame. While a chunk is
// being written the stream stays paused, so HTTP/2 flow control holds the guest's process as a slow pipe
// would; nothing is dropped.

/** At most this much output is written per turn: 4 Ki lines at worst, a few milliseconds and little garbage. */
export const PACED_SLICE_BYTES = 4 * 1024;

export function pumpPaced(stream: NodeJS.ReadableStream, write: (chunk: Buffer) => void, sliceBytes = PACED_SLICE_BYTES): void {
  stream.on('data', (chunk: Buffer) => {
    stream.pause();
    let at = 0;
    const next = (): void => {
      write(chunk.subarray(at, at + sliceBytes));
      at += sliceBytes;
      if (at < chunk.length) setImmediate(next);
      else setImmediate(() => stream.resume());
    };
    next();
  });
}
