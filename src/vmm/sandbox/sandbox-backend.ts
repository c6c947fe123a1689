// The sandbox backend: machines as Linux namespaces + overlayfs + cgroups, with the harness as PID 1.
// Not a VM: the guest shares the host kernel, and `aegis doctor` says so.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AegisPaths } from '../../config/paths.js';
import { conflict } from '../../errors/codes.js';
import type { Backend, BackendCapabilities, BackendProbe, MachineExit, MachineSpec } from '../backend.js';
import { readRuntimeInfo } from '../runtime/node-runtime.js';
import { cgroupVersion, MachineCgroups } from './cgroups.js';
import { ensureDevTemplate } from './dev-template.js';
import { assertOverlayPath, guestFstab } from './guest-mounts.js';
import { GUEST_CAPABILITIES, GUEST_CONTROL_SOCKET, OUTER_SCRIPT, SETUP_SCRIPT } from './launch-script.js';
import { machineDirs, readRecord, writeRecord, type MachineRecord } from './machine-state.js';
import { pidStartTime } from '../process-util.js';
import { probeSandbox } from './probe.js';
import { SandboxMachine } from './sandbox-machine.js';
import { checkMachineSpec } from '../check-machine-spec.js';

export const SANDBOX_CAPABILITIES: BackendCapabilities = {
  pauseResume: true,
  memorySnapshots: false,
  bootFromDiskLayers: false,
  workspaceMounts: true,
  isolation: 'namespace',
};

/** The harness (a Node process) lives in the machine's cgroup too: the workload gets memoryMiB on top of it. */
const HARNESS_MEMORY_MIB = 64;
const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class SandboxBackend implements Backend {
  readonly name = 'sandbox' as const;
  readonly capabilities = SANDBOX_CAPABILITIES;
  readonly bootTimeoutMs = 30_000;
  private readonly loader: string;
  private devTemplate: Promise<string> | undefined;

  constructor(private readonly opts: { paths: AegisPaths; runtimeDir: string }) {
    this.loader = readRuntimeInfo(opts.runtimeDir).loader;
  }

  probe(): Promise<BackendProbe> {
    return probeSandbox();
  }

  async start(spec: MachineSpec): Promise<SandboxMachine> {
    const { paths, runtimeDir } = this.opts;
    checkMachineSpec(spec);
    for (const layer of spec.rootfsLayers) assertOverlayPath(layer, 'rootfs layer path');
    const dirs = machineDirs(paths.machines, spec.id);
    assertOverlayPath(dirs.dir, 'machine dir');
    if (await this.adopt(spec.id)) throw conflict(`machine ${spec.id} is already running`);
    fs.rmSync(dirs.dir, { recursive: true, force: true });
    // A state dir keeps the writable layer beyond this machine; overlayfs wants upper and work side by side.
    if (spec.stateDir) assertOverlayPath(spec.stateDir, 'state dir');
    const upper = spec.stateDir ? path.join(spec.stateDir, 'upper') : dirs.upper;
    const work = spec.stateDir ? path.join(spec.stateDir, 'work') : dirs.work;
    for (const d of [dirs.root, upper, work, dirs.devUpper, dirs.devWork, dirs.control]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    // An upper dir's mode is that of the merged root: the guest's `/` and `/dev` must be 0755 or a non-root
    // image USER can open nothing at all (the host keeps others out: $AEGIS_HOME/data is 0700).
    for (const d of [upper, dirs.devUpper]) fs.chmodSync(d, 0o755);
    const devTemplate = await (this.devTemplate ??= ensureDevTemplate(paths.rootfs));
    fs.writeFileSync(
      dirs.fstab,
      guestFstab({ root: dirs.root, devTemplate, devUpper: dirs.devUpper, devWork: dirs.devWork, runtimeDir, controlDir: dirs.control, workspaceDir: spec.workspaceDir, hostHas: fs.existsSync }),
      { mode: 0o600 },
    );

    const version = cgroupVersion() ?? 1;
    const cgroups = MachineCgroups.forMachine(spec.id, version);
    const procs = await cgroups.create({ memoryBytes: (spec.memoryMiB + HARNESS_MEMORY_MIB) * 1024 * 1024, vcpus: spec.vcpus });

    const consoleFd = fs.openSync(dirs.console, 'a', 0o600);
    const lower = [...spec.rootfsLayers].reverse().join(':');
    const child = spawn('/bin/sh', ['-c', OUTER_SCRIPT, 'aegis-launch', dirs.root, lower, upper, work, dirs.fstab, spec.hostname, this.loader], {
      // Its own process group: a Ctrl+C aimed at the daemon's terminal must not reach machines.
      detached: true,
      stdio: ['ignore', consoleFd, consoleFd],
      // This is also the harness's environment: nothing of the daemon's leaks into the guest.
      env: {
        PATH: HOST_PATH,
        AEGIS_SETUP: SETUP_SCRIPT,
        AEGIS_CGROUP_PROCS: procs.join(' '),
        AEGIS_GUEST_CAPS: GUEST_CAPABILITIES,
        AEGIS_CONTROL_SOCKET: GUEST_CONTROL_SOCKET,
        HOME: '/root',
        HOSTNAME: spec.hostname,
      },
    });
    fs.closeSync(consoleFd);
    const childExit = new Promise<MachineExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    child.unref();
    if (child.pid === undefined) {
      await cgroups.remove().catch(() => undefined);
      throw new Error(`could not start machine ${spec.id}: /bin/sh did not spawn`);
    }
    const record: MachineRecord = {
      backend: 'sandbox',
      id: spec.id,
      pid: child.pid,
      pidStartTime: pidStartTime(child.pid) ?? 0,
      cgroupVersion: version,
      cgroupDirs: cgroups.dirs,
      runtimeDir,
      socketPath: dirs.socket,
      spec,
      startedAt: new Date().toISOString(),
    };
    writeRecord(dirs.state, record);
    return new SandboxMachine(record, dirs, cgroups, childExit);
  }

  async adopt(id: string): Promise<SandboxMachine | undefined> {
    const dirs = machineDirs(this.opts.paths.machines, id);
    const record = readRecord(dirs.state);
    if (!record || pidStartTime(record.pid) !== record.pidStartTime) return undefined;
    return new SandboxMachine(record, dirs, recordedCgroups(record));
  }

  async destroy(id: string): Promise<void> {
    const dirs = machineDirs(this.opts.paths.machines, id);
    const running = await this.adopt(id);
    if (running) await running.stop(0);
    const record = readRecord(dirs.state);
    await (record ? recordedCgroups(record) : MachineCgroups.forMachine(id, cgroupVersion() ?? 1)).remove();
    fs.rmSync(dirs.dir, { recursive: true, force: true });
  }
}

function recordedCgroups(record: MachineRecord): MachineCgroups {
  return record.cgroupDirs ? MachineCgroups.fromDirs(record.cgroupVersion, record.cgroupDirs) : MachineCgroups.forMachine(record.id, record.cgroupVersion);
}
