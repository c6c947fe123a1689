// Does KVM really work here? /dev/kvm existing proves nothing (a nested KVM on which stock guest kernels
// hang is common): boot the guest kernel once with accel=kvm into the initramfs's probe mode and watch
// for its marker. The verdict is cached per kernel and qemu binary.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROBE_MARKER } from './init-script.js';
import { qemuArgs, type Accel } from './qemu-args.js';

export interface KvmVerdict {
  usable: boolean;
  /** Why not, or how long the probe boot took. */
  detail: string;
}

const PROBE_TIMEOUT_MS = 20_000;

/** Whether /dev/kvm can be opened read-write by this process (the precondition for trying at all). */
export function kvmDeviceAccessible(): boolean {
  try {
    fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function cacheFile(qemuDir: string, qemuBin: string, kernel: string): string {
  const st = fs.statSync(qemuBin);
  const key = crypto.createHash('sha256').update(`${qemuBin}:${st.size}:${st.mtimeMs}:${kernel}`).digest('hex').slice(0, 16);
  return path.join(qemuDir, `kvm-probe-${key}.json`);
}

/** The cached verdict for this qemu and kernel, if a probe ran before. */
export function cachedKvmVerdict(qemuDir: string, qemuBin: string, kernel: string): KvmVerdict | undefined {
  try {
    return JSON.parse(fs.readFileSync(cacheFile(qemuDir, qemuBin, kernel), 'utf8')) as KvmVerdict;
  } catch {
    return undefined;
  }
}

/** Boots once under KVM (or uses the cached verdict). */
export async function probeKvm(qemuDir: string, qemuBin: string, kernel: string, initrd: string): Promise<KvmVerdict> {
  if (!kvmDeviceAccessible()) return { usable: false, detail: '/dev/kvm is missing or not accessible' };
  const cached = cachedKvmVerdict(qemuDir, qemuBin, kernel);
  if (cached) return cached;
  const verdict = await probeBoot(qemuBin, kernel, initrd, 'kvm');
  fs.mkdirSync(qemuDir, { recursive: true });
  fs.writeFileSync(cacheFile(qemuDir, qemuBin, kernel), JSON.stringify(verdict) + '\n');
  return verdict;
}

/** Boots the initramfs's probe mode once under `accel` and tells whether it got as far as /init. */
export async function probeBoot(qemuBin: string, kernel: string, initrd: string, accel: Accel, timeoutMs = PROBE_TIMEOUT_MS): Promise<KvmVerdict> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-kvm-probe-'));
  const consoleFile = path.join(tmp, 'console.log');
  const started = Date.now();
  try {
    const child = spawn(qemuBin, qemuArgs({ accel, memoryMiB: 128, vcpus: 1, kernel, initrd, params: ['aegis.probe=1'], console: consoleFile, confinement: {} }), {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(null));
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs)))]);
    clearTimeout(timer);
    if (timedOut) child.kill('SIGKILL');
    await exited;
    const text = fs.existsSync(consoleFile) ? fs.readFileSync(consoleFile, 'utf8') : '';
    if (text.includes(PROBE_MARKER)) return { usable: true, detail: `a ${accel.toUpperCase()} probe boot took ${Date.now() - started} ms` };
    if (timedOut) return { usable: false, detail: `a ${accel.toUpperCase()} probe boot did not finish within ${timeoutMs} ms` };
    const why = stderr.trim().split('\n').pop() || text.trim().split('\n').pop() || 'no output';
    return { usable: false, detail: `a ${accel.toUpperCase()} probe boot failed: ${why}` };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
