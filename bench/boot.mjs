// Real VMs (the qemu backend): cold boot to the end of `aegis run -- true` (no warm machine), beside the
// sandbox backend's cold run in the same run; wake-from-pause time to first byte of an instance on qemu
// (QMP stop/cont); and wake of a stopped instance from its memory snapshot, against a cold boot of the
// same server to its first byte in the same daemon. Under TCG (these build machines) boots take
// seconds; the script is the same on a KVM host. The libkrun row is measured only with a real libkrun
// (found on the probe paths or at $AEGIS_LIBKRUN): elsewhere, and with the test double, it says
// "not available here" and why.
import { measureColdServe, measureWake, percentile, report, round, timeRun, withDaemonAsync, AEGIS } from './lib.mjs';

const RUNS = Number(process.env.BENCH_BOOT_RUNS ?? 3);
const p50 = (xs) => round(percentile(xs, 50));
const COLD = { AEGIS_WARM_MACHINES: '0' };

/** A maintainer's libkrun outside the probe paths reaches the daemon as on any host. */
const LIBKRUN_ENV = process.env.AEGIS_LIBKRUN ? { AEGIS_LIBKRUN: process.env.AEGIS_LIBKRUN } : {};

/** `aegis run -- true` wall times on a backend with no warm machine; the first run (provisioning) is not counted. */
async function coldRuns(backend) {
  return withDaemonAsync('router:\n  port: 0\n', { ...COLD, ...LIBKRUN_ENV, AEGIS_BACKEND: backend }, async ({ env, api }) => {
    timeRun(AEGIS, ['run', '--', 'true'], { env });
    const ms = [];
    for (let i = 0; i < RUNS; i++) ms.push(timeRun(AEGIS, ['run', '--', 'true'], { env }));
    const status = await api('GET', '/v1/status');
    return { ms, detail: status.backends?.[backend]?.detail ?? '' };
  });
}

const qemu = await coldRuns('qemu');
const sandbox = await coldRuns('sandbox');
report({
  name: 'boot-cold-run',
  runs: RUNS,
  accel: /\bKVM\b/.test(qemu.detail) && !/TCG/.test(qemu.detail) ? 'kvm' : 'tcg',
  qemu_p50_ms: p50(qemu.ms),
  sandbox_p50_ms: p50(sandbox.ms),
  ratio_p50: round(percentile(qemu.ms, 50) / percentile(sandbox.ms, 50)),
});

// libkrun: a figure only from a real libkrun, never from the test double (a fixture that boots no VM).
const libkrun = await withDaemonAsync('router:\n  port: 0\n', { ...COLD, ...LIBKRUN_ENV, AEGIS_BACKEND: 'libkrun' }, async ({ api }) => (await api('GET', '/v1/status')).backends.libkrun);
if (!libkrun.available || libkrun.fixture) {
  report({ name: 'boot-cold-run-libkrun', result: 'not available here', why: libkrun.fixture ? `only the test double is configured (${libkrun.library})` : libkrun.detail });
} else {
  const krun = await coldRuns('libkrun');
  report({ name: 'boot-cold-run-libkrun', runs: RUNS, libkrun_p50_ms: p50(krun.ms), sandbox_p50_ms: p50(sandbox.ms), ratio_p50: round(percentile(krun.ms, 50) / percentile(sandbox.ms, 50)) });
}

const resume = await withDaemonAsync('router:\n  port: 0\nidle:\n  pauseAfter: 300ms\n  stopAfter: 1h\n', { ...COLD, AEGIS_BACKEND: 'qemu' }, ({ api }) => measureWake(api, 'paused', RUNS * 2));
report({ name: 'boot-resume-from-pause', backend: 'qemu', runs: RUNS * 2, ttfb_p50_ms: p50(resume.wake), running_ttfb_p50_ms: p50(resume.running) });

// Stopped after 300 ms paused: each wake restores the memory snapshot the stop saved.
const snapshots = await withDaemonAsync('router:\n  port: 0\nidle:\n  pauseAfter: 300ms\n  stopAfter: 300ms\n', { ...COLD, AEGIS_BACKEND: 'qemu' }, async ({ api }) => {
  const cold = await measureColdServe(api, RUNS);
  const restored = await measureWake(api, 'stopped', RUNS);
  return { cold, restore: restored.wake };
});
report({
  name: 'boot-restore-snapshot',
  backend: 'qemu',
  runs: RUNS,
  restore_ttfb_p50_ms: p50(snapshots.restore),
  cold_boot_ttfb_p50_ms: p50(snapshots.cold),
  ratio_p50: round(percentile(snapshots.restore, 50) / percentile(snapshots.cold, 50)),
});
