// A hostile aegis-harness: an HTTP/2 server on a unix socket that answers health like a real harness
// (so the host connects) and every other call the way its mode says, to attack the daemon's side of the
// control channel. Runs as its own process so that what it allocates does not count in the test's RSS.
//
//   AEGIS_PROTOCOL=N node hostile-harness.mjs SOCKET MODE [ROUTE=MODE ...]
//
// MODE applies to every call but the first health of each session; ROUTE=MODE overrides it for one route
// (e.g. `exec=serve`: execs start like real ones, so an instance boots, and only the forward attacks).
//
// Prints one line `listening` when ready, then one JSON line per stream it answered:
// `{"route": "...", "sent": BYTES}` once the host closed or reset that stream.
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';

const [socketPath, defaultMode, ...overrides] = process.argv.slice(2);
const routeModes = new Map(overrides.map((o) => o.split('=')));
/** The protocol version the host speaks (the test passes it), so the host accepts this harness. */
const PROTOCOL = Number(process.env.AEGIS_PROTOCOL);
const CHUNK = Buffer.alloc(64 * 1024, 0x61); // 'a'
const ERROR_BODY_BYTES = 256 * 1024 * 1024;

const health = () =>
  JSON.stringify({ protocol: PROTOCOL, harnessVersion: 'hostile', pid: process.pid, uptimeMs: 1, hostname: 'hostile', execs: [], main: null, zombies: 0 });

/** One frame header: type, 4-byte big-endian length (the payload follows separately). */
function frameHeader(type, length) {
  const h = Buffer.alloc(5);
  h[0] = type;
  h.writeUInt32BE(length, 1);
  return h;
}

/** Writes `next()` chunks as fast as the host takes them, until `next` returns undefined or the stream closes. */
function pump(stream, next, counter) {
  const loop = () => {
    while (!stream.destroyed && !stream.closed) {
      const chunk = next();
      if (chunk === undefined) return void stream.end();
      counter.sent += chunk.length;
      if (!stream.write(chunk)) return void stream.once('drain', loop);
    }
  };
  loop();
}

/** Endless frames of `length` declared bytes each, payload and all. */
function endlessFrames(length) {
  let left = 0;
  return () => {
    if (left === 0) {
      left = length;
      return frameHeader(2, length);
    }
    const n = Math.min(left, CHUNK.length);
    left -= n;
    return CHUNK.subarray(0, n);
  };
}

const modeOf = (route) => routeModes.get(route) ?? defaultMode;

/** Every connection the host opened (mode `garbage` writes to them directly, under HTTP/2). */
const connections = new Set();

/** Sessions whose connect-time health call was answered. */
const greeted = new WeakSet();

function answer(stream, headers) {
  const path = String(headers[':path']);
  const route = path.replace('/v1/', '');
  const counter = { sent: 0 };
  stream.on('error', () => {});
  stream.once('close', () => process.stdout.write(`${JSON.stringify({ route, sent: counter.sent })}\n`));
  if (modeOf(route) !== 'never-read') stream.resume();
  // The first health call is the host's connect: answered honestly (or there is no session to attack),
  // except in mode `huge-greeting`: its headers come before the host's settings are in force.
  let mode = modeOf(route);
  if (route === 'health' && !greeted.has(stream.session)) {
    greeted.add(stream.session);
    if (mode !== 'huge-greeting') {
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      return stream.end(health());
    }
    mode = 'huge-headers';
  }
  switch (mode) {
    case 'serve':
    case 'newline-flood': {
      // an exec that starts like a real one and runs on (printing nothing, or endless 1 MiB frames of newlines)
      stream.respond({ ':status': 200, 'content-type': 'application/vnd.aegis.frames', 'aegis-exec-id': 'exec-hostile' });
      const started = Buffer.from(JSON.stringify({ execId: 'exec-hostile', pid: 4242 }));
      stream.write(Buffer.concat([frameHeader(1, started.length), started]));
      if (mode === 'newline-flood') {
        const newlines = Buffer.alloc(1024 * 1024, 0x0a);
        let header = true;
        pump(stream, () => ((header = !header) ? newlines : frameHeader(2, newlines.length)), counter);
      }
      return;
    }
    case 'error-body': {
      // (a) a refusal whose body is 256 MiB
      stream.respond({ ':status': 502, 'content-type': 'application/json' });
      let left = ERROR_BODY_BYTES;
      const open = Buffer.from('{"code":"FORWARD_REFUSED","message":"');
      let first = true;
      return pump(stream, () => {
        if (first) return ((first = false), open);
        if (left <= 0) return undefined;
        left -= CHUNK.length;
        return CHUNK;
      }, counter);
    }
    case 'endless-json': {
      // (b) a JSON reply that never ends, at full speed
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      let first = true;
      return pump(stream, () => (first ? ((first = false), Buffer.from(`{"protocol":${PROTOCOL},"padding":"`)) : CHUNK), counter);
    }
    case 'slow-json': {
      // (b) a JSON reply that never ends, one byte at a time
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.write(`{"protocol":${PROTOCOL},`);
      const timer = setInterval(() => {
        if (stream.destroyed || stream.closed) return clearInterval(timer);
        counter.sent += 1;
        stream.write(' ');
      }, 20);
      return;
    }
    case 'huge-frames':
    case 'absurd-frames': {
      // (c) an exec stream of endless frames with a huge declared length: 16 MiB each (what the host used
      // to accept), or one absurd 4 GiB declaration followed by endless bytes
      stream.respond({ ':status': 200, 'content-type': 'application/vnd.aegis.frames', 'aegis-exec-id': 'exec-hostile' });
      const length = mode === 'huge-frames' ? 16 * 1024 * 1024 : 0xfffffff0;
      return pump(stream, endlessFrames(length), counter);
    }
    case 'bad-frame': {
      // a started frame whose JSON payload is not JSON
      stream.respond({ ':status': 200, 'content-type': 'application/vnd.aegis.frames', 'aegis-exec-id': 'exec-hostile' });
      const payload = Buffer.from('{not json');
      counter.sent += payload.length + 5;
      stream.write(Buffer.concat([frameHeader(1, payload.length), payload]));
      return;
    }
    case 'huge-headers': {
      // (d) 128 KB of response headers (nghttp2 lets this much through)
      const big = { ':status': 200 };
      for (let i = 0; i < 8; i++) big[`x-hostile-${i}`] = 'a'.repeat(16_000);
      counter.sent += 128_000;
      stream.respond(big);
      return;
    }
    case 'many-headers': {
      // (d) more header fields than the host accepts
      const many = { ':status': 200 };
      for (let i = 0; i < 200; i++) many[`x-hostile-${i}`] = 'a'.repeat(100);
      counter.sent += 200 * 110;
      stream.respond(many);
      return;
    }
    case 'silent':
      // never answers
      return;
    case 'garbage': {
      // malformed HTTP/2: bytes that are no frame at all, straight onto the connection, mid-session
      const garbage = Buffer.alloc(64 * 1024);
      for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 151 + 7) & 0xff;
      counter.sent += garbage.length;
      for (const socket of connections) socket.write(garbage);
      return;
    }
    case 'never-read':
      // a forward accepted like a real one, whose guest end never reads what the host sends
      stream.pause();
      stream.respond({ ':status': 200 });
      return;
    case 'endless-forward': {
      // a forward accepted like a real one, whose guest server answers an HTTP response without end, as fast as it can
      stream.respond({ ':status': 200 });
      let head = true;
      return pump(stream, () => (head ? ((head = false), Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\r\n')) : CHUNK), counter);
    }
    default:
      stream.respond({ ':status': 500 });
      stream.end();
  }
}

const server = http2.createServer({
  // Let this peer send what a real harness never would.
  maxSendHeaderBlockLength: 16 * 1024 * 1024,
  maxSessionMemory: 1024,
  settings: { maxConcurrentStreams: 1000 },
});
server.on('stream', answer);
server.on('sessionError', () => {});
server.on('session', (s) => s.on('error', () => {}));
fs.rmSync(socketPath, { force: true });
net
  .createServer((socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
    socket.on('error', () => {});
    server.emit('connection', socket);
  })
  .listen(socketPath, () => process.stdout.write('listening\n'));
