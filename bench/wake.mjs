// Wake time to first byte: a request to a paused instance (idle pauseAfter 300 ms, stopAfter an hour)
// timed from connect to the first response byte, beside the same request to the same instance while it
// runs (taken right after each wake, before it pauses again). Then, in a second daemon with stopAfter
// 300 ms, the same for a stopped instance (a cold boot: no warm machine). Each request is its own
// connection and closes (an open socket would keep the instance awake).
import net from 'node:net';
import { percentile, report, round, waitUntil, withDaemonAsync } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 8);
const RUNNING_PER_RUN = 3;
const FILE = '/passwd';
const p50 = (xs) => round(percentile(xs, 50));
const p95 = (xs) => round(percentile(xs, 95));


/** Connect, send one GET (Connection: close), and time until the first response byte; checks for a 200. */
function ttfb(router, id) {
  const u = new URL(router);
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let first;
    let head = '';
    const sock = net.connect(Number(u.port), u.hostname);
    sock.setTimeout(60_000, () => sock.destroy(new Error('no response in 60 s')));
    sock.on('connect', () => sock.write(`GET ${FILE} HTTP/1.1\r\nHost: ${u.host}\r\nX-Aegis-App: ${id}\r\nConnection: close\r\n\r\n`));
    sock.on('data', (c) => {
      first ??= performance.now() - t0;
      if (head.length < 64) head += c;
    });
    sock.on('end', () => (head.startsWith('HTTP/1.1 200') ? resolve(first) : reject(new Error(`unexpected response: ${head}`))));
    sock.on('error', reject);
  });
}

/** An ad-hoc busybox httpd instance; resolves once a request through the router is answered. */
async function serveInstance(api) {
  const router = (await api('GET', '/v1/status')).router;
  const id = (await api('POST', '/v1/instances', { command: ['httpd', '-f', '-p', '8080', '-h', '/etc'], expose: [8080] })).metadata.uid;
  await waitUntil(() => ttfb(router, id), 'the instance to serve');
  const state = async () => (await api('GET', `/v1/instances/${id}`)).status.state;
  return { router, id, state };
}

/** RUNS times: wait for `idleState`, time one request (the wake), then RUNNING_PER_RUN requests while it runs. */
async function measure(api, idleState, runs) {
  const { router, id, state } = await serveInstance(api);
  const wake = [];
  const running = [];
  for (let i = 0; i < runs; i++) {
    await waitUntil(async () => (await state()) === idleState, idleState);
    wake.push(await ttfb(router, id));
    for (let j = 0; j < RUNNING_PER_RUN; j++) running.push(await ttfb(router, id));
  }
  if ((await state()) !== 'running') throw new Error('the instance should be running right after a request');
  return { wake, running };
}

const paused = await withDaemonAsync('router:\n  port: 0\nidle:\n  pauseAfter: 300ms\n  stopAfter: 1h\n', { AEGIS_WARM_MACHINES: '0' }, ({ api }) => measure(api, 'paused', RUNS));
report({
  name: 'wake-from-pause',
  runs: RUNS,
  ttfb_p50_ms: p50(paused.wake),
  ttfb_p95_ms: p95(paused.wake),
  running_ttfb_p50_ms: p50(paused.running),
  running_ttfb_p95_ms: p95(paused.running),
  ratio_p50: round(percentile(paused.wake, 50) / percentile(paused.running, 50)),
  target_ms: 50,
});

const stopped = await withDaemonAsync('router:\n  port: 0\nidle:\n  pauseAfter: 300ms\n  stopAfter: 300ms\n', { AEGIS_WARM_MACHINES: '0' }, ({ api }) => measure(api, 'stopped', COLD_RUNS));
report({
  name: 'wake-from-stopped',
  runs: COLD_RUNS,
  ttfb_p50_ms: p50(stopped.wake),
  ttfb_p95_ms: p95(stopped.wake),
  running_ttfb_p50_ms: p50(stopped.running),
  ratio_p50: round(percentile(stopped.wake, 50) / percentile(stopped.running, 50)),
});
