// Picks the backend machines run on: AEGIS_BACKEND when set, else the best one that can run on this host.
// qemu under TCG boots in seconds, so it is picked automatically only when KVM was proved to work.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BackendReport } from '../api/services.js';
import type { AegisPaths } from '../config/paths.js';
import { unavailable } from '../errors/codes.js';
import type { BackendName, BackendProbe, MachineLimits } from './backend.js';
import type { MachineHost } from './machine-host.js';
import { probeLibkrun } from './libkrun/probe.js';
import { provisionQemuAssets } from './qemu/qemu-assets.js';
import { QEMU_CAPABILITIES, QemuBackend } from './qemu/qemu-backend.js';
import { probeQemu } from './qemu/probe.js';
import { removeStaleBuilds } from './build-once.js';
import { ensureBaseRootfs } from './rootfs/base-rootfs.js';
import { provisionRuntime } from './runtime/node-runtime.js';
import { probeSandbox } from './sandbox/probe.js';
import { SANDBOX_CAPABILITIES, SandboxBackend } from './sandbox/sandbox-backend.js';

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
  const sandboxProbe = await probeSandbox({ dataDir: paths.data, allowHostRoot: sandbox.allowHostRoot ?? false });
  const probes: Record<BackendName, BackendProbe> = {
    libkrun: await probeLibkrun(),
    qemu: qemuProbe,
    sandbox: { available: sandboxProbe.available, detail: sandboxProbe.detail },
  };
  const wanted = env.AEGIS_BACKEND as BackendName | undefined;
  if (wanted && !PREFERENCE.includes(wanted)) throw new Error(`AEGIS_BACKEND=${wanted} is not a backend (known: ${PREFERENCE.join(', ')})`);
  const eligible = (n: BackendName) => probes[n].available && (n !== 'qemu' || qemuProbe.kvm);
  const name = wanted ? (probes[wanted].available ? wanted : null) : (PREFERENCE.find(eligible) ?? null);
  const why = wanted ? `backend ${wanted} cannot run here: ${probes[wanted].detail}` : 'no backend can run on this host (see aegis doctor)';

  const prepare = async (): Promise<MachineHost> => {
    if (name !== 'sandbox' && name !== 'qemu') throw unavailable(why);
    const bundle = harnessBundlePath();
    if (!fs.existsSync(bundle)) throw unavailable(`the guest harness is not built (${bundle} is missing): run npm run build`);
    // Builders that died half-way (a killed daemon) leave .tmp- dirs behind: clear them before building.
    removeStaleBuilds(paths.runtime);
    removeStaleBuilds(paths.rootfs);
    const [runtimeDir, baseRootfs] = await Promise.all([provisionRuntime(paths, bundle), ensureBaseRootfs(paths)]);
    if (name === 'qemu') return { backend: new QemuBackend({ paths, assets: await provisionQemuAssets(paths, runtimeDir), limits }), baseRootfs };
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
    report: { name, capabilities: name === 'sandbox' ? SANDBOX_CAPABILITIES : name === 'qemu' ? QEMU_CAPABILITIES : null, probes },
    host,
  };
}
