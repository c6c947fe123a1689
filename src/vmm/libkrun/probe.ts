// Can the libkrun backend run here? A libkrun (1.17+) with every function Aegis calls, its libkrunfw, KVM,
// and, because the worker assembles the guest's root with mounts, Linux and root. The library is looked at
// by the worker's --probe mode in a child process: neither aegisd nor the CLI loads it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { which } from '../../util/which.js';
import type { BackendProbe } from '../backend.js';
import { LIBKRUN_MIN_VERSION } from './libkrun-api.js';
import type { LibraryReport } from './library-probe.js';

/**
 * Where libkrun is installed by Homebrew (Apple Silicon, Intel), from source, and by Linux distributions; the
 * versioned name too, since distributions put the bare `libkrun.so` in their -devel package.
 */
export const LIBKRUN_PATHS = [
  '/opt/homebrew/lib/libkrun.dylib',
  '/usr/local/lib/libkrun.dylib',
  ...['/usr/lib', '/usr/local/lib', '/usr/lib64', '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu'].flatMap((dir) => [`${dir}/libkrun.so`, `${dir}/libkrun.so.1`]),
];

export const LIBKRUN_INSTALL_HINT = 'Fedora: dnf install libkrun; Arch: pacman -S libkrun; macOS: brew install slp/krun/libkrun; or set AEGIS_LIBKRUN to its path';
const NOT_FOUND = `libkrun not found (${LIBKRUN_INSTALL_HINT})`;
const WORKER_BUNDLE = 'vmm/libkrun/krun-worker.mjs';

export interface LibkrunProbe extends BackendProbe {
  /** The library found (on the probe paths, or $AEGIS_LIBKRUN). */
  library?: string;
  /** True for the test double: usable when asked for by name, never chosen automatically. */
  fixture: boolean;
  /** One line about the library alone (for `aegis doctor`'s host checks): found, lacking a symbol, a test double. */
  libraryDetail: string;
}

/** The worker script, from a bundle in dist/ (the CLI, the daemon) or from the sources (tests). */
export function libkrunWorkerScript(): string {
  const candidates = [`../${WORKER_BUNDLE}`, `../../../dist/${WORKER_BUNDLE}`].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  return candidates.find((f) => fs.existsSync(f)) ?? candidates[0];
}

/** The node the worker runs on: on macOS a copy signed with the hypervisor entitlement (see the README). */
export const workerNode = (env: NodeJS.ProcessEnv = process.env) => env.AEGIS_LIBKRUN_NODE || process.execPath;

/** $AEGIS_LIBKRUN, else the first library on the probe paths. */
export function findLibkrun(env: NodeJS.ProcessEnv = process.env): { library?: string; problem?: string } {
  const chosen = env.AEGIS_LIBKRUN;
  if (chosen) return fs.existsSync(chosen) ? { library: chosen } : { problem: `AEGIS_LIBKRUN=${chosen}: no such file` };
  const library = LIBKRUN_PATHS.find((p) => fs.existsSync(p));
  return library ? { library } : { problem: NOT_FOUND };
}

/** Runs the worker's --probe on `library` (a fresh process: a broken library cannot take the caller down). */
export function inspectLibrary(library: string, opts: { workerScript?: string; env?: NodeJS.ProcessEnv } = {}): LibraryReport {
  const script = opts.workerScript ?? libkrunWorkerScript();
  if (!fs.existsSync(script)) return { library, missing: [], fixture: false, error: `the libkrun worker is not built (${script} is missing): run npm run build` };
  try {
    const out = execFileSync(workerNode(opts.env), [script, '--probe', library], { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    return JSON.parse(out.trim().split('\n').pop() ?? '') as LibraryReport;
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim().split('\n').pop();
    return { library, missing: [], fixture: false, error: `its probe failed: ${stderr || (err as Error).message.split('\n')[0]}` };
  }
}

/** The library alone, as one line: what `aegis doctor` prints on its libkrun row. */
export function describeLibrary(report: LibraryReport): { usable: boolean; detail: string } {
  const lib = report.library;
  if (report.error) return { usable: false, detail: `${lib} cannot be used: ${report.error}` };
  if (report.missing.length) {
    const more = report.missing.length > 1 ? ` and ${report.missing.length - 1} more` : '';
    return { usable: false, detail: `${lib} lacks ${report.missing[0]}${more} (Aegis needs libkrun ${LIBKRUN_MIN_VERSION} or newer)` };
  }
  if (report.fixture) return { usable: true, detail: `test double at ${lib} (a fixture of Aegis's tests, not libkrun: no VM, never chosen automatically)` };
  if (report.krunfw && 'error' in report.krunfw) return { usable: false, detail: `found at ${lib}, but ${report.krunfw.error}` };
  return { usable: true, detail: `found at ${lib} (libkrunfw ABI ${report.krunfw?.abi} at ${report.krunfw?.file})` };
}

export async function probeLibkrun(opts: { env?: NodeJS.ProcessEnv; workerScript?: string } = {}): Promise<LibkrunProbe> {
  const env = opts.env ?? process.env;
  const found = findLibkrun(env);
  if (!found.library) return { available: false, fixture: false, detail: found.problem!, libraryDetail: found.problem! };
  const report = inspectLibrary(found.library, { ...opts, env });
  const lib = describeLibrary(report);
  const base = { library: found.library, fixture: report.fixture, libraryDetail: lib.detail };
  if (!lib.usable) return { ...base, available: false, detail: lib.detail };
  const host = hostProblem(report.fixture);
  if (host) return { ...base, available: false, detail: `${lib.detail}; but ${host}` };
  return { ...base, available: true, detail: `${lib.detail}; guest root over virtiofs, no network` };
}

/** What this host lacks for the worker (the test double needs no KVM: it boots nothing). */
function hostProblem(fixture: boolean): string | undefined {
  if (process.platform !== 'linux') {
    return 'this build runs libkrun machines on Linux hosts only (the guest runtime is a copy of the host\'s node, and the guest\'s root is assembled with Linux mounts)';
  }
  if (process.getuid?.() !== 0) return 'it needs root (the worker assembles the guest\'s root with mounts, as the sandbox does)';
  if (!fixture) {
    try {
      fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
    } catch {
      return '/dev/kvm is missing or not accessible (libkrun needs KVM)';
    }
  }
  const missing = [
    ['unshare', 'util-linux'],
    ['setpriv', 'util-linux'],
    ['mount', 'mount'],
    ['mkfs.ext4', 'e2fsprogs'],
  ].filter(([cmd]) => !which(cmd));
  return missing.length ? `missing ${missing.map(([c, p]) => `${c} (${p})`).join(', ')}` : undefined;
}
