// Real VMs (the qemu backend): cold boot to the end of `aegis run -- true` (no warm machine), beside the
// sandbox backend's cold run in the same run; and wake-from-pause time to first byte of an instance on
// qemu (QMP stop/cont). Memory snapshots are not supported yet, which the last line says. Under TCG
// (these build machines) boots take seconds; the script is the same on a KVM host.
import { measureWake, percentile, report, round, timeRun, withDaemonAsync, AEGIS } from './lib.mjs';

const RUNS = Number(process.env.BENCH_BOOT_RUNS ?? 3);
const p50 = (xs) => round(percentile(xs, 50));
const COLD = { AEGIS_WARM_MACHINES: '0' };

/** `aegis run -- true` wall times on a backend with no warm machine; the first run (provisioning) is not counted. */
async function coldRuns(backend) {
  return withDaemonAsync('router:\n  port: 0\n', { ...COLD, AEGIS_BACKEND: backend }, async ({ env, api }) => {
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

const resume = await withDaemonAsync('router:\n  port: 0\nidle:\n  pauseAfter: 300ms\n  stopAfter: 1h\n', { ...COLD, AEGIS_BACKEND: 'qemu' }, ({ api }) => measureWake(api, 'paused', RUNS * 2));
report({ name: 'boot-resume-from-pause', backend: 'qemu', runs: RUNS * 2, ttfb_p50_ms: p50(resume.wake), running_ttfb_p50_ms: p50(resume.running) });
report({ name: 'boot-restore-snapshot', backend: 'qemu', supported: false, note: 'memory snapshots are not implemented yet (doctor: Memory Snapshots no)' });
