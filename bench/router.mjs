// Router throughput and latency with wrk (HTTP/1.1 keep-alive) at 1, 16 and 64 connections. The guest runs a
// small keep-alive Node HTTP server (the guest's own node from /.aegis) answering 82 bytes. Three legs, same run:
//   port:   the exposed port's own listener (src/router/port-listener.ts): raw bytes over one forward per
//           client connection — the baseline;
//   router: the HTTP router on the daemon's router port;
//   host:   the same server script run on the host, for reference (no channel at all).
// Rounds interleave the legs (the machine is shared and noisy); figures are medians over rounds of wrk's
// req/s, p50 and p99. ratio_rps = router / port; p99_added_ms = router p99 - port p99 (medians). cpu_ms_per_1k
// says where the time goes: CPU ms per 1000 requests of aegisd, the harness and the server, from /proc.
// BENCH_LEGS=router (one leg) prints the raw samples only, for profiling runs (AEGIS_BENCH_CLI in lib.mjs).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { percentile, report, round, waitUntil, withDaemonAsync } from './lib.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DURATION_S = Number(process.env.BENCH_DURATION ?? 3);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '1,16,64').split(',').map(Number);
const LEGS = (process.env.BENCH_LEGS ?? 'port,router,host').split(',');
const median = (xs) => percentile(xs, 50);

// Keep-alive server: 82 bytes per response, like a small JSON API answer.
const SERVER = `const body = Buffer.from('x'.repeat(81) + '\\n');
require('http').createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }); res.end(body); })
  .listen(Number(process.argv[1]), '127.0.0.1');`;

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

/** wrk's "Latency 50%/99%" lines and Requests/sec, in ms and req/s. */
function parseWrk(out) {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const latency = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    return m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : NaN;
  };
  const p50 = latency(50);
  const p99 = latency(99);
  const errors = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? /Socket errors:.*/.exec(out)?.[0];
  if (!Number.isFinite(rps) || !Number.isFinite(p99) || !Number.isFinite(p50) || errors) throw new Error(`wrk: ${errors ?? 'unparsable output'}\n${out}`);
  return { rps, p50, p99 };
}

// CPU seconds per process class (from /proc), to say where each leg's time goes per request.
const CLASSES = { aegisd: /aegisd/, harness: /aegis-harness/, guest_server: /createServer/ };
function cpuByClass() {
  const out = Object.fromEntries(Object.keys(CLASSES).map((k) => [k, 0]));
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const cls = Object.keys(CLASSES).find((k) => CLASSES[k].test(cmd));
      if (!cls) continue;
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      out[cls] += (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in ms (USER_HZ 100)
    } catch {
      /* the process went away */
    }
  }
  return out;
}

function wrk(url, connections, headers = {}) {
  const before = cpuByClass();
  const args = ['-t1', `-c${connections}`, `-d${DURATION_S}s`, '--latency', ...Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]), url];
  const result = parseWrk(execFileSync('wrk', args, { encoding: 'utf8' }));
  const after = cpuByClass();
  const requests = result.rps * DURATION_S;
  result.cpuMsPer1k = Object.fromEntries(Object.keys(after).map((k) => [k, ((after[k] - before[k]) * 1000) / requests]));
  return result;
}

await withDaemonAsync('router:\n  port: 0\n', { AEGIS_WARM_MACHINES: '0' }, async ({ api, onCleanup }) => {
  const router = (await api('GET', '/v1/status')).router;
  // The guest's node is the harness's own (/.aegis), started through its loader like the harness is.
  const command = ['sh', '-c', `exec /.aegis/lib/ld-linux-x86-64.so.2 --library-path /.aegis/lib /.aegis/bin/node -e "$0" 8080`, SERVER];
  // Default idle times (60 s): the load keeps it running throughout.
  const inst = await api('POST', '/v1/instances', { command, expose: [8080] });
  const id = inst.metadata.uid;
  const headers = { 'x-aegis-app': id };
  const body = (await waitUntil(async () => {
    const r = await get(router + '/', headers);
    return r.status === 200 && r.body;
  }, 'the instance to serve', 60_000)).toString();
  const hostPort = await waitUntil(async () => (await api('GET', `/v1/instances/${id}`)).status.endpoints?.[0]?.hostPort, 'the port listener');

  const port = await freePort();
  const server = spawn(process.execPath, ['-e', SERVER, String(port)], { stdio: 'ignore' });
  onCleanup(() => server.kill('SIGKILL'));
  const urls = { port: `http://127.0.0.1:${hostPort}/`, router: router + '/', host: `http://127.0.0.1:${port}/` };
  await waitUntil(async () => (await get(urls.host)).body === body, 'the host server');
  if ((await get(urls.port)).body !== body) throw new Error('the port listener serves other bytes');

  const samples = {}; // samples[leg][connections] = [{rps, p99}]
  for (const leg of LEGS) samples[leg] = Object.fromEntries(CONNECTIONS.map((c) => [c, []]));
  for (const leg of LEGS) wrk(urls[leg], 16, leg === 'router' ? headers : {}); // warm-up (JIT, pools)
  for (let i = 0; i < ROUNDS; i++) {
    for (const c of CONNECTIONS) {
      // Alternate the order so neither leg always runs right after the other.
      const order = i % 2 === 0 ? LEGS : [...LEGS].reverse();
      for (const leg of order) samples[leg][c].push(wrk(urls[leg], c, leg === 'router' ? headers : {}));
    }
  }
  const byConnections = {};
  if (LEGS.length < 3) return report({ name: 'router', partial: true, samples }); // profiling runs
  for (const c of CONNECTIONS) {
    const m = Object.fromEntries(
      LEGS.map((leg) => [leg, { rps: median(samples[leg][c].map((s) => s.rps)), p50: median(samples[leg][c].map((s) => s.p50)), p99: median(samples[leg][c].map((s) => s.p99)) }]),
    );
    byConnections[c] = {
      router_rps: round(m.router.rps),
      port_rps: round(m.port.rps),
      host_rps: round(m.host.rps),
      ratio_rps: round(m.router.rps / m.port.rps),
      ratio_rps_host: round(m.router.rps / m.host.rps),
      router_p99_ms: round(m.router.p99),
      port_p99_ms: round(m.port.p99),
      host_p99_ms: round(m.host.p99),
      p99_added_ms: round(m.router.p99 - m.port.p99),
      router_p50_ms: round(m.router.p50),
      port_p50_ms: round(m.port.p50),
      p50_added_ms: round(m.router.p50 - m.port.p50),
      // Where the time goes: CPU ms per 1000 requests of each process class, per leg (medians).
      cpu_ms_per_1k: Object.fromEntries(
        LEGS.map((leg) => [leg, Object.fromEntries(Object.keys(CLASSES).map((k) => [k, round(median(samples[leg][c].map((s) => s.cpuMsPer1k[k])))]))]),
      ),
    };
  }
  report({
    name: 'router',
    tool: 'wrk -t1 keep-alive',
    durationS: DURATION_S,
    rounds: ROUNDS,
    baseline: 'port (the exposed port listener, same guest server)',
    target: { ratio_rps: 0.9, p99_added_ms_at_16: 2 },
    connections: byConnections,
  });
});
