// Router throughput: small responses (the guest's 82-byte /etc/passwd from busybox httpd) through the
// router, beside a direct connection to the same busybox httpd run on the host serving the same bytes.
// The load generator is the same for both: CONNECTIONS concurrent clients on a keep-alive node:http
// agent, each sending its next request as soon as the last one ends. (busybox httpd closes after every
// response, so the direct leg pays a connect per request; the router keeps client connections alive.
// autocannon was tried and cannot measure a server that closes: it writes the next request on the
// closing socket, and with reconnectRate it counts nothing.) Rounds alternate between the two; figures
// are medians over the rounds (req/s per round, p99 latency per round). Default idle times (60 s), so
// the instance stays running throughout.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { percentile, report, round, waitUntil, withDaemonAsync } from './lib.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION_S = Number(process.env.BENCH_DURATION ?? 5);
const CONNECTIONS = 10;
const FILE = '/passwd';
const median = (xs) => percentile(xs, 50);


/** One GET on a fresh connection: status and body. */
const get = (url, headers = {}) =>
  new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, headers }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      })
      .on('error', reject);
  });

const freePort = () =>
  new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });

/** CONNECTIONS closed-loop clients for DURATION_S: completed requests per second and p99 latency (ms). */
async function load(url, headers) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const latencies = [];
  let failures = 0;
  const one = () =>
    new Promise((resolve) => {
      const t0 = performance.now();
      http
        .get(url, { agent, headers }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) latencies.push(performance.now() - t0);
            else failures++;
            resolve();
          });
        })
        .on('error', () => {
          failures++;
          resolve();
        });
    });
  const t0 = performance.now();
  const end = t0 + DURATION_S * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  const elapsed = performance.now() - t0;
  agent.destroy();
  if (failures > latencies.length / 1000) throw new Error(`${url}: ${failures} failed of ${failures + latencies.length}`);
  return { rps: (latencies.length * 1000) / elapsed, p99: percentile(latencies, 99) };
}

await withDaemonAsync('router:\n  port: 0\n', { AEGIS_WARM_MACHINES: '0' }, async ({ api, onCleanup }) => {
  const router = (await api('GET', '/v1/status')).router;
  const inst = await api('POST', '/v1/instances', { command: ['httpd', '-f', '-p', '8080', '-h', '/etc'], expose: [8080] });
  const id = inst.metadata.uid;
  const headers = { 'x-aegis-app': id };
  const body = (await waitUntil(async () => {
    const r = await get(router + FILE, headers);
    return r.status === 200 && r.body;
  }, 'the instance to serve')).toString();

  // The baseline: the host's busybox httpd serving the same bytes.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-bench-www-'));
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, FILE.slice(1)), body);
  const port = await freePort();
  const httpd = spawn('/bin/busybox', ['httpd', '-f', '-p', `127.0.0.1:${port}`, '-h', dir], { stdio: 'ignore' });
  onCleanup(() => httpd.kill('SIGKILL'));
  const direct = `http://127.0.0.1:${port}${FILE}`;
  await waitUntil(async () => (await get(direct)).body === body, 'the direct httpd');

  const viaRouter = [];
  const viaDirect = [];
  for (let i = 0; i < ROUNDS; i++) {
    viaDirect.push(await load(direct, {}));
    viaRouter.push(await load(router + FILE, headers));
  }
  const routerRps = median(viaRouter.map((r) => r.rps));
  const directRps = median(viaDirect.map((r) => r.rps));
  report({
    name: 'router',
    connections: CONNECTIONS,
    durationS: DURATION_S,
    rounds: ROUNDS,
    router_rps: round(routerRps),
    direct_rps: round(directRps),
    ratio_rps: round(routerRps / directRps),
    target_ratio_rps: 0.7,
    router_p99_ms: round(median(viaRouter.map((r) => r.p99))),
    direct_p99_ms: round(median(viaDirect.map((r) => r.p99))),
  });
});
