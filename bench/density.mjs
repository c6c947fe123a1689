// Density: what an idle served instance costs the host. Starts N busybox httpd instances (BENCH_N, default
// 10), then measures the proportional memory (PSS, from /proc/PID/smaps_rollup) of every process each
// instance adds (its machine's processes and its network helper, found by the machine id in their cgroups)
// while running and once paused, aegisd's own RSS and CPU over an idle minute slice, and the time to wake
// all of them with one request each. The baseline, in the same run: the PSS of a bare busybox httpd on the
// host (what the workload costs without a machine around it). The PSS is also split by kind of process:
// harness, network helper, workload, and the launch's shells.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuPercentOver, daemonPid, percentile, report, round, ttfb, waitUntil, withDaemonAsync } from './lib.mjs';

const N = Number(process.env.BENCH_N ?? 10);
// A minute: the controllers' periodic resync (every 60 s) falls inside it once.
const IDLE_SAMPLE_MS = Number(process.env.BENCH_IDLE_MS ?? 60_000);
const PAUSE_AFTER = '4s';
const MIB = 1024 * 1024;

/** PSS of one process in bytes, 0 when it is gone or unreadable. */
function pss(pid) {
  try {
    const kb = /^Pss:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Every live pid with its cgroup lines, its executable's name and its command line. */
function processes() {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const read = (file) => fs.readFileSync(`/proc/${name}/${file}`, 'utf8');
      out.push({ pid: Number(name), cgroup: read('cgroup'), comm: read('comm').trim(), cmdline: read('cmdline') });
    } catch {
      /* exited */
    }
  }
  return out;
}

/**
 * What a machine's process is: its network helper (the one process in its egress cgroup), the harness (Node
 * running aegis-harness, PID 1 of the guest, started through the runtime's loader), the launch's shells and
 * unshare, or the workload (the rest).
 */
function kindOf(p) {
  if (p.cgroup.includes('/aegis-egress/')) return 'network';
  if (p.cmdline.includes('aegis-harness')) return 'harness';
  if (p.comm === 'sh' || p.comm === 'unshare') return 'launch';
  return 'workload';
}
const KINDS = ['harness', 'network', 'workload', 'launch'];

/** Host memory (PSS) of each machine's processes (those whose cgroup path names the machine), in all and by kind. */
function memoryPerMachine(machineIds) {
  const all = processes();
  return machineIds.map((id) => {
    const byKind = Object.fromEntries(KINDS.map((k) => [k, 0]));
    for (const p of all.filter((p) => p.cgroup.includes(`/${id}`))) byKind[kindOf(p)] += pss(p.pid);
    return { total: Object.values(byKind).reduce((a, b) => a + b, 0), byKind };
  });
}

/** Median PSS in MiB per kind of process, over the machines. */
const splitMib = (mems) => Object.fromEntries(KINDS.map((k) => [k, round(median(mems.map((m) => m.byKind[k])) / MIB)]));

const median = (xs) => percentile(xs, 50);

await withDaemonAsync(`router:\n  port: 0\nidle:\n  pauseAfter: ${PAUSE_AFTER}\n  stopAfter: 1h\n`, { AEGIS_WARM_MACHINES: '0' }, async ({ home, api, onCleanup }) => {
  const router = (await api('GET', '/v1/status')).router;
  const pid = daemonPid(home);

  // The baseline: a bare busybox httpd on the host.
  const www = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-bench-www-'));
  onCleanup(() => fs.rmSync(www, { recursive: true, force: true }));
  const bare = spawn('/bin/busybox', ['httpd', '-f', '-p', '127.0.0.1:0', '-h', www], { stdio: 'ignore' });
  onCleanup(() => bare.kill('SIGKILL'));

  const ids = [];
  for (let i = 0; i < N; i++) ids.push((await api('POST', '/v1/instances', { command: ['httpd', '-f', '-p', '8080', '-h', '/etc'], expose: [8080] })).metadata.uid);
  for (const id of ids) await waitUntil(() => ttfb(router, id), `instance ${id} to serve`, 120_000);
  const machineOf = async (id) => (await api('GET', `/v1/instances/${id}`)).status.machineId;
  const machines = await Promise.all(ids.map(machineOf));
  const runningMem = memoryPerMachine(machines);
  const running = runningMem.map((m) => m.total);

  await waitUntil(async () => (await Promise.all(ids.map(async (id) => (await api('GET', `/v1/instances/${id}`)).status.state))).every((s) => s === 'paused'), 'every instance to pause', 120_000);
  const pausedMem = memoryPerMachine(machines);
  const paused = pausedMem.map((m) => m.total);

  // aegisd with N paused instances: its memory, and its CPU over an idle stretch.
  const idleCpuPct = await cpuPercentOver(pid, IDLE_SAMPLE_MS);
  const daemonRss = pss(pid);

  // Wake them all: one request each, all at once.
  const w0 = performance.now();
  const wakes = await Promise.all(ids.map((id) => ttfb(router, id)));
  const wakeAll = performance.now() - w0;

  const baseline = pss(bare.pid);
  report({
    name: 'density',
    instances: N,
    running_pss_mib_p50: round(median(running) / MIB),
    paused_pss_mib_p50: round(median(paused) / MIB),
    // Per kind of process (each a median over the machines, so they need not add up to the total's median).
    running_pss_mib_split: splitMib(runningMem),
    paused_pss_mib_split: splitMib(pausedMem),
    bare_httpd_pss_mib: round(baseline / MIB),
    paused_ratio_to_bare: round(median(paused) / baseline),
    daemon_pss_mib: round(daemonRss / MIB),
    daemon_idle_cpu_pct: round(idleCpuPct),
    wake_all_ms: round(wakeAll),
    wake_p50_ms: round(median(wakes)),
    target_paused_mib: 20,
    target_daemon_idle_cpu_pct: 1,
  });
});
