// Picks the backend machines run on: AEGIS_BACKEND when set, else the best one that can run on this host:
// libkrun first where it works, then qemu with KVM, then the sandbox. qemu under TCG boots in seconds, so it is
// picked automatically only when KVM was proved to work; libkrun's test double never is.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AegisPaths } from '../config/paths.js';
import { unavailable } from '../errors/codes.js';
import type { BackendCapabilities, BackendName, BackendProbe, MachineLimits } from './backend.js';
import type { MachineHost } from './machine-host.js';
import { LIBKRUN_CAPABILITIES, LibkrunBackend } from './libkrun/libkrun-backend.js';
import { probeLibkrun } from './libkrun/probe.js';
import { provisionQemuAssets } from './qemu/qemu-assets.js';
import { QEMU_CAPABILITIES, QemuBackend } from './qemu/qemu-backend.js';
import { probeQemu } from './qemu/probe.js';
import { removeStaleBuilds } from './build-once.js';
import { ensureBaseRootfs } from './rootfs/base-rootfs.js';
import { provisionRuntime } from './runtime/node-runtime.js';
import { probeSandbox } from './sandbox/probe.js';
import { SANDBOX_CAPABILITIES, SandboxBackend } from './sandbox/sandbox-backend.js';

/** Which backend machines run on and why, with what each backend's probe found (for /v1/status and `aegis doctor`). */
export interface BackendReport {
  /** The backend machines run on, or null when none can run here (see `probes`). */
  name: BackendName | null;
  /** Why that one: AEGIS_BACKEND, or which better backends the automatic choice passed over (shown by `aegis doctor`). */
  reason: string;
  capabilities: BackendCapabilities | null;
  probes: Record<BackendName, BackendProbe>;
}

/** Best first: real VMs before the namespace sandbox. */
const PREFERENCE: BackendName[] = ['libkrun', 'qemu', 'sandbox'];

export interface BackendSelection {
  report: BackendReport;
  /** Prepares the chosen backend once (guest runtime, base rootfs); rejects with the reason when none can run. */
  host: () => Promise<MachineHost>;
}

export const harnessBundlePath = () => fileURLToPath(new URL('../harness/aegis-harness.mjs', import.meta.url));

/** config.yaml's `sandbox:` settings. */
export interface SandboxSettings {
  allowHostRoot?: boolean;
}

export async function selectBackend(paths: AegisPaths, env: NodeJS.ProcessEnv, limits?: MachineLimits, sandbox: SandboxSettings = {}): Promise<BackendSelection> {
  const qemuProbe = await probeQemu(paths);
  const libkrunProbe = await probeLibkrun({ env });
  const sandboxProbe = await probeSandbox({ dataDir: paths.data, allowHostRoot: sandbox.allowHostRoot ?? false });
  const probes: Record<BackendName, BackendProbe> = {
    libkrun: libkrunProbe,
    qemu: qemuProbe,
    sandbox: { available: sandboxProbe.available, detail: sandboxProbe.detail },
  };
  const wanted = env.AEGIS_BACKEND as BackendName | undefined;
  if (wanted && !PREFERENCE.includes(wanted)) throw new Error(`AEGIS_BACKEND=${wanted} is not a backend (known: ${PREFERENCE.join(', ')})`);
  const eligible = (n: BackendName) => probes[n].available && (n !== 'qemu' || qemuProbe.kvm) && (n !== 'libkrun' || !libkrunProbe.fixture);
  const name = wanted ? (probes[wanted].available ? wanted : null) : (PREFERENCE.find(eligible) ?? null);
  const why = wanted ? `backend ${wanted} cannot run here: ${probes[wanted].detail}` : 'no backend can run on this host (see aegis doctor)';
  const reason = !name ? why : wanted ? `AEGIS_BACKEND=${wanted}` : chosenBecause(name, probes);

  const prepare = async (): Promise<MachineHost> => {
    if (!name) throw unavailable(why);
    const bundle = harnessBundlePath();
    if (!fs.existsSync(bundle)) throw unavailable(`the guest harness is not built (${bundle} is missing): run npm run build`);
    // Builders that died half-way (a killed daemon) leave .tmp- dirs behind: clear them before building.
    removeStaleBuilds(paths.runtime);
    removeStaleBuilds(paths.rootfs);
    const [runtimeDir, baseRootfs] = await Promise.all([provisionRuntime(paths, bundle), ensureBaseRootfs(paths)]);
    if (name === 'qemu') return { backend: new QemuBackend({ paths, assets: await provisionQemuAssets(paths, runtimeDir), limits }), baseRootfs };
    if (name === 'libkrun') return { backend: new LibkrunBackend({ paths, runtimeDir, library: libkrunProbe.library!, limits, env }), baseRootfs };
    return { backend: new SandboxBackend({ paths, runtimeDir, limits, hostRoot: sandboxProbe.hostRoot }), baseRootfs };
  };
  let prepared: Promise<MachineHost> | undefined;
  // Prepared once and shared; a failed preparation is retried by the next caller, not cached.
  const host = () =>
    (prepared ??= prepare().catch((err) => {
      prepared = undefined;
      throw err;
    }));
  return {
    report: { name, reason, capabilities: name ? CAPABILITIES[name] : null, probes },
    host,
  };
}

const CAPABILITIES: Record<BackendName, BackendCapabilities> = { libkrun: LIBKRUN_CAPABILITIES, qemu: QEMU_CAPABILITIES, sandbox: SANDBOX_CAPABILITIES };

/** Why the automatic choice fell on `name`: the better backends it passed over and what they lack. */
function chosenBecause(name: BackendName, probes: Record<BackendName, BackendProbe>): string {
  const passed = PREFERENCE.slice(0, PREFERENCE.indexOf(name)).map((n) => {
    if (!probes[n].available) return `${n} cannot run here`;
    return n === 'qemu' ? 'qemu has no proven KVM (TCG boots take seconds)' : `${n} is the test double`;
  });
  return passed.length ? `the best that runs here (${passed.join('; ')})` : 'the best that runs here';
}
