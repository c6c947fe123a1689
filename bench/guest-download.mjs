// Guest network throughput: a sandbox machine downloads BENCH_MIB (default 256) MiB over HTTP from a server
// at a public-looking address, through its user-mode network (slirp4netns) and egress filter, BENCH_RUNS
// times (default 5) in one `aegis run`, each timed inside the guest (/proc/uptime, 10 ms steps). The baseline,
// in the same run: the host's own busybox wget of the same body from the same server. The server sits in a
// network namespace of its own behind a veth pair (as the egress tests' fake internet), at 192.52.193.254,
// an address of IANA's globally reachable AMT block that the filter lets through like any public one.
import { execFileSync, spawn } from 'node:child_process';
import readline from 'node:readline';
import { AEGIS, percentile, report, round, timeRun, withDaemon } from './lib.mjs';

const MIB = Number(process.env.BENCH_MIB ?? 256);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const ADDRESS = '192.52.193.254';
const NS = `ae-bdl-${process.pid}`;
const [HOST_IF, NS_IF] = [`aeb${process.pid}h`, `aeb${process.pid}n`];
const LINK = '169.254.251';

const SERVER = `
import http from 'node:http';
const chunk = Buffer.alloc(1 << 20, 120);
const mib = Number(process.env.MIB);
http.createServer((req, res) => {
  res.writeHead(200, { 'content-length': String(mib * chunk.length) });
  let left = mib;
  const more = () => { while (left > 0) { left--; if (!res.write(chunk)) return res.once('drain', more); } res.end(); };
  more();
}).listen(80, process.env.ADDRESS, () => process.stdout.write('ready\\n'));
`;

const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
const cleanup = () => {
  try {
    ip('netns', 'del', NS); // the veth pair and the host route go with it
  } catch {
    /* never made */
  }
};

cleanup();
let server;
try {
  ip('netns', 'add', NS);
  ip('link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF, 'netns', NS);
  ip('addr', 'add', `${LINK}.1/30`, 'dev', HOST_IF);
  ip('link', 'set', HOST_IF, 'up');
  ip('-n', NS, 'addr', 'add', `${LINK}.2/30`, 'dev', NS_IF);
  ip('-n', NS, 'addr', 'add', `${ADDRESS}/32`, 'dev', NS_IF);
  ip('-n', NS, 'link', 'set', NS_IF, 'up');
  ip('route', 'replace', `${ADDRESS}/32`, 'via', `${LINK}.2`, 'dev', HOST_IF);
  server = spawn('ip', ['netns', 'exec', NS, process.execPath, '--input-type=module', '-e', SERVER], { env: { ...process.env, MIB: String(MIB), ADDRESS }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`the download server exited (${code})`)));
    readline.createInterface({ input: server.stdout }).once('line', resolve);
  });

  const url = `http://${ADDRESS}/`;
  const host = Array.from({ length: RUNS }, () => MIB / (timeRun('/bin/busybox', ['wget', '-q', '-O', '/dev/null', url]) / 1000));
  const script = `for i in $(seq ${RUNS}); do a=$(cut -d' ' -f1 /proc/uptime); wget -q -O /dev/null ${url} || exit 1; b=$(cut -d' ' -f1 /proc/uptime); echo "$a $b"; done`;
  const guest = withDaemon(({ env }) => {
    const out = execFileSync(AEGIS, ['run', '--', 'sh', '-c', script], { env, encoding: 'utf8' });
    return out.trim().split('\n').map((l) => {
      const [a, b] = l.split(' ').map(Number);
      return MIB / Math.max(b - a, 0.01);
    });
  });
  const p50 = (xs) => percentile(xs, 50);
  report({
    name: 'guest-download',
    mib: MIB,
    runs: RUNS,
    guest_mib_s_p50: round(p50(guest)),
    host_mib_s_p50: round(p50(host)),
    guest_ratio_to_host: round(p50(guest) / p50(host)),
  });
} finally {
  server?.kill('SIGKILL');
  cleanup();
}
