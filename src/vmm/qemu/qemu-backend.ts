// The qemu backend: every machine is a microVM (qemu-system-x86_64 -M microvm) booting the Debian cloud
// kernel into the harness, with KVM when it really works and TCG otherwise.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { AegisPaths } from '../../config/paths.js';
import { conflict, notSupported } from '../../errors/codes.js';
import type { Backend, BackendCapabilities, BackendProbe, MachineExit, MachineSpec } from '../backend.js';
import { readRuntimeInfo } from '../runtime/node-runtime.js';
import { pidStartTime } from '../sandbox/machine-state.js';
import { writeRecord, readRecord } from '../record-file.js';
import { rootfsImage, stateDisk } from './disk-image.js';
import { qemuMachineDirs, type QemuMachineRecord } from './machine-state.js';
import { probeQemu } from './probe.js';
import type { QemuAssets } from './qemu-assets.js';
import { qemuArgs } from './qemu-args.js';
import { QemuMachine } from './qemu-machine.js';
import { qmpStatus } from './qmp-client.js';
import { checkMachineSpec } from '../check-machine-spec.js';

export const QEMU_CAPABILITIES: BackendCapabilities = {
  pauseResume: true,
  memorySnapshots: false,
  bootFromDiskLayers: true,
  // This guest kernel has no 9p, and virtiofs does not work on microvm: no host directory share yet.
  workspaceMounts: false,
  isolation: 'vm',
};

/** Guest memory on top of the workload's: the guest kernel, the harness (node) and the tmpfs upper layer. */
export const GUEST_OVERHEAD_MIB = 64;

export class QemuBackend implements Backend {
  readonly name = 'qemu' as const;
  readonly capabilities = QEMU_CAPABILITIES;
  private readonly loader: string;

  constructor(private readonly opts: { paths: AegisPaths; assets: QemuAssets }) {
    this.loader = readRuntimeInfo(opts.assets.runtimeDir).loader;
  }

  probe(): Promise<BackendProbe> {
    return probeQemu(this.opts.paths);
  }

  async start(spec: MachineSpec): Promise<QemuMachine> {
    const { paths, assets } = this.opts;
    checkMachineSpec(spec);
    if (spec.workspaceDir) throw notSupported('the qemu backend cannot share a workspace directory yet');
    const dirs = qemuMachineDirs(paths.machines, spec.id);
    if (await this.adopt(spec.id)) throw conflict(`machine ${spec.id} is already running`);
    fs.rmSync(dirs.dir, { recursive: true, force: true });
    fs.mkdirSync(dirs.dir, { recursive: true, mode: 0o700 });
    const rootImage = await rootfsImage(assets.dir, spec.rootfsLayers);
    const upperImage = spec.stateDir ? await stateDisk(spec.stateDir) : undefined;

    const guestMemoryMiB = spec.memoryMiB + GUEST_OVERHEAD_MIB;
    const args = qemuArgs({
      accel: assets.accel,
      memoryMiB: guestMemoryMiB,
      vcpus: spec.vcpus,
      kernel: assets.kernel.kernel,
      initrd: assets.initrd,
      params: [`aegis.hostname=${spec.hostname}`, `aegis.loader=${this.loader}`, ...(upperImage ? ['aegis.upper=disk'] : [])],
      console: dirs.console,
      rootImage,
      runtimeImage: assets.runtimeImage,
      ...(upperImage ? { upperImage } : {}),
      controlSocket: dirs.socket,
      qmpSocket: dirs.qmp,
    });
    const errFd = fs.openSync(`${dirs.dir}/qemu.log`, 'a', 0o600);
    const child = spawn(assets.qemuBin, args, {
      // Its own process group: a Ctrl+C aimed at the daemon's terminal must not reach machines.
      detached: true,
      stdio: ['ignore', errFd, errFd],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    fs.closeSync(errFd);
    const childExit = new Promise<MachineExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start machine ${spec.id}: ${assets.qemuBin} did not spawn`);
    const record: QemuMachineRecord = {
      backend: 'qemu',
      id: spec.id,
      pid: child.pid,
      pidStartTime: pidStartTime(child.pid) ?? 0,
      accel: assets.accel,
      runtimeDir: assets.runtimeDir,
      socketPath: dirs.socket,
      qmpSocket: dirs.qmp,
      guestMemoryMiB,
      spec,
      startedAt: new Date().toISOString(),
    };
    writeRecord(dirs.state, record);
    return new QemuMachine(record, dirs, childExit);
  }

  async adopt(id: string): Promise<QemuMachine | undefined> {
    const dirs = qemuMachineDirs(this.opts.paths.machines, id);
    const record = readRecord<QemuMachineRecord>(dirs.state);
    if (!record || record.backend !== 'qemu' || pidStartTime(record.pid) !== record.pidStartTime) return undefined;
    // A paused VM stays paused across a daemon restart: ask qemu rather than assume.
    const status = await qmpStatus(record.qmpSocket).catch(() => undefined);
    return new QemuMachine(record, dirs, undefined, status ? !status.running : false);
  }

  async destroy(id: string): Promise<void> {
    const running = await this.adopt(id);
    if (running) await running.stop(0);
    fs.rmSync(qemuMachineDirs(this.opts.paths.machines, id).dir, { recursive: true, force: true });
  }
}
