// The qemu backend: every machine is a microVM (qemu-system-x86_64 -M microvm) booting the Debian cloud
// kernel into the harness, with KVM when it really works and TCG otherwise.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { AegisPaths } from '../../config/paths.js';
import { conflict } from '../../errors/codes.js';
import type { Backend, BackendCapabilities, BackendProbe, MachineExit, MachineLimits, MachineSpec } from '../backend.js';
import { readRuntimeInfo } from '../runtime/node-runtime.js';
import { pidStartTime } from '../process-util.js';
import { writeRecord, readRecord } from '../record-file.js';
import { rootfsImage, stateDisk, workspaceDisk, workspaceDiskPath } from './disk-image.js';
import { qemuMachineDirs, type QemuMachineDirs, type QemuMachineRecord } from './machine-state.js';
import { abandonDeadSave, discardSnapshot, INCOMING_FD, loadSnapshot, openSnapshotSource, snapshotFingerprint, usableSnapshot } from './memory-snapshot.js';
import { probeQemu } from './probe.js';
import type { QemuAssets } from './qemu-assets.js';
import { qemuArgs, writableDiskParams, type QemuLaunch } from './qemu-args.js';
import { QemuMachine } from './qemu-machine.js';
import { qmpExecute, qmpStatus, waitForQmp } from './qmp-client.js';
import { checkMachineSpec } from '../check-machine-spec.js';
import { egressFilterSupport, joinCgroup } from '../network/egress-filter.js';
import { hostEgressPolicy, type EgressPolicy } from '../network/egress-bpf.js';
import { MachineEgress, removeMachineEgress } from '../network/machine-egress.js';
import { makeJail, qemuUser, type QemuUser } from './qemu-confinement.js';
import type { Readable } from 'node:stream';

export const QEMU_CAPABILITIES: BackendCapabilities = {
  pauseResume: true,
  memorySnapshots: true,
  bootFromDiskLayers: true,
  // As a disk per app (this guest kernel has no 9p, and virtiofs does not work on microvm): see workspaceDisk.
  workspaceMounts: true,
  isolation: 'vm',
};

/** How long qemu may take to open its QMP socket, and to load a snapshot (hundreds of MB through zstd). */
const QMP_READY_TIMEOUT_MS = 10_000;
const RESTORE_TIMEOUT_MS = 60_000;

/** Guest memory on top of the workload's: the guest kernel, the harness (node) and the tmpfs upper layer. */
export const GUEST_OVERHEAD_MIB = 64;

export class QemuBackend implements Backend {
  readonly name = 'qemu' as const;
  readonly capabilities = QEMU_CAPABILITIES;
  /** ~1 s with KVM; under TCG ~5-15 s on an idle 2-core host, and a busy one can triple that. */
  readonly bootTimeoutMs: number;
  private readonly loader: string;

  /**
   * The host's own addresses and its resolvers as read at start, for the BPF filter that keeps each VM's
   * slirp sockets to its policy (see machine-egress.ts); undefined where the filter cannot load: no network.
   */
  private readonly egressHost: EgressPolicy | undefined;
  /** Whom qemu drops to (undefined: the daemon is not root, and qemu runs as the daemon's user). */
  private readonly runAs: QemuUser | undefined;
  /** Machines this daemon started or has adopted once: any other running one was left by a daemon that died. */
  private readonly known = new Set<string>();

  constructor(private readonly opts: { paths: AegisPaths; assets: QemuAssets; limits?: MachineLimits }) {
    this.loader = readRuntimeInfo(opts.assets.runtimeDir).loader;
    // Without the filter a slirp network would reach the host's own services and the LAN: such VMs get no
    // network device at all (like a sandbox without slirp4netns). The probe line says which.
    this.egressHost = egressFilterSupport().supported ? hostEgressPolicy() : undefined;
    this.runAs = qemuUser();
    this.bootTimeoutMs = opts.assets.accel === 'kvm' ? 30_000 : 120_000;
  }

  probe(): Promise<BackendProbe> {
    return probeQemu(this.opts.paths);
  }

  async start(spec: MachineSpec): Promise<QemuMachine> {
    const { paths, assets } = this.opts;
    checkMachineSpec(spec);
    const dirs = qemuMachineDirs(paths.machines, spec.id);
    if (await this.adopt(spec.id)) throw conflict(`machine ${spec.id} is already running`);
    fs.rmSync(dirs.dir, { recursive: true, force: true });
    fs.mkdirSync(dirs.dir, { recursive: true, mode: 0o700 });
    const rootImage = await rootfsImage(assets.dir, spec.rootfsLayers);
    const upperImage = spec.stateDir ? await stateDisk(spec.stateDir, spec.diskMiB ?? this.opts.limits?.diskMiB) : undefined;
    const workspaceImage = spec.workspaceDir ? await workspaceDisk(spec.workspaceDir) : undefined;
    if (workspaceImage) await this.checkWorkspaceFree(workspaceImage, spec.id);
    // The VM's own egress cgroup and filter, before qemu opens its first slirp socket; none for `none`.
    const egress = this.egressHost ? await MachineEgress.open({ machineDir: dirs.dir, id: spec.id, network: spec.network, host: this.egressHost }) : undefined;
    try {
      const machine = await this.boot(spec, dirs, { rootImage, upperImage, workspaceImage }, egress);
      if (egress) {
        egress.save(); // again: a snapshot that failed to load cleared the machine dir
        const close = () => egress.close();
        void machine.exited.then(close, close).catch(() => undefined);
      }
      return machine;
    } catch (err) {
      await egress?.close().catch(() => undefined);
      throw err;
    }
  }

  /** Boots the VM, or resumes it from its memory snapshot when one fits. */
  private async boot(spec: MachineSpec, dirs: QemuMachineDirs, disks: { rootImage: string; upperImage?: string; workspaceImage?: string }, egress: MachineEgress | undefined): Promise<QemuMachine> {
    const { assets } = this.opts;
    const { rootImage, upperImage, workspaceImage } = disks;
    const launch: QemuLaunch = {
      accel: assets.accel,
      memoryMiB: spec.memoryMiB + GUEST_OVERHEAD_MIB,
      vcpus: spec.vcpus,
      kernel: assets.kernel.kernel,
      initrd: assets.initrd,
      params: [`aegis.hostname=${spec.hostname}`, `aegis.loader=${this.loader}`, ...writableDiskParams({ upperImage, workspaceImage })],
      console: dirs.console,
      rootImage,
      runtimeImage: assets.runtimeImage,
      ...(upperImage ? { upperImage } : {}),
      ...(workspaceImage ? { workspaceImage } : {}),
      controlSocket: dirs.socket,
      qmpSocket: dirs.qmp,
      ...(egress ? { network: true } : {}),
      confinement: { jail: dirs.jail, ...(this.runAs ? { runAs: this.runAs } : {}) },
    };
    if (egress) launch.params.push('aegis.net=user');
    if (!spec.stateDir) return this.spawn(spec, dirs, launch, { egress });
    const fingerprint = this.fingerprint(launch, spec.snapshotKey);
    const snapshot = usableSnapshot(spec.stateDir, fingerprint);
    let note: string | undefined;
    if (snapshot) {
      try {
        return await this.restore(spec, dirs, launch, fingerprint, snapshot, egress);
      } catch (err) {
        // A snapshot that does not load is worth a boot, not a failure: the disk it belonged to is intact.
        note = `memory snapshot not restored (${err instanceof Error ? err.message : String(err)}); booting instead`;
        discardSnapshot(spec.stateDir);
        fs.mkdirSync(dirs.dir, { recursive: true, mode: 0o700 });
      }
    }
    return this.spawn(spec, dirs, launch, { fingerprint, egress, ...(note ? { note } : {}) });
  }

  /**
   * A workspace disk is one machine's at a time (two kernels mounting one ext4 would corrupt it): the
   * second machine of an app is refused while the first runs, where the sandbox would share the directory.
   */
  private async checkWorkspaceFree(image: string, id: string): Promise<void> {
    const machines = this.opts.paths.machines;
    for (const other of fs.existsSync(machines) ? fs.readdirSync(machines) : []) {
      if (other === id) continue;
      const record = readRecord<QemuMachineRecord>(qemuMachineDirs(machines, other).state);
      if (!record?.spec.workspaceDir || workspaceDiskPath(record.spec.workspaceDir) !== image) continue;
      if (await this.adopt(other)) throw conflict(`the workspace ${record.spec.workspaceDir} is in use by machine ${other}: on the qemu backend an app's workspace disk serves one machine at a time`);
    }
  }

  /** What a snapshot of this launch depends on: everything but the machine's own paths and qemu's confinement. */
  private fingerprint(launch: QemuLaunch, snapshotKey: string | undefined): string {
    const { console: _c, controlSocket: _s, qmpSocket: _q, confinement: _j, ...machine } = launch;
    const qemu = fs.statSync(this.opts.assets.qemuBin);
    return snapshotFingerprint({ machine, snapshotKey: snapshotKey ?? null, qemu: [this.opts.assets.qemuBin, qemu.size, qemu.mtimeMs], loader: this.loader });
  }

  /** Starts qemu waiting for the snapshot, feeds it, and lets the guest run on from where it was saved. */
  private async restore(spec: MachineSpec, dirs: QemuMachineDirs, launch: QemuLaunch, fingerprint: string, snapshot: { file: string; compressed: boolean }, egress: MachineEgress | undefined): Promise<QemuMachine> {
    const source = openSnapshotSource(snapshot);
    let machine: QemuMachine | undefined;
    try {
      machine = this.spawn(spec, dirs, { ...launch, incoming: true }, { fingerprint, restored: true, incoming: source.stdio, egress });
      source.release();
      await waitForQmp(dirs.qmp, () => machine!.state() === 'exited', QMP_READY_TIMEOUT_MS);
      await loadSnapshot(dirs.qmp, RESTORE_TIMEOUT_MS);
      if (!(await qmpStatus(dirs.qmp)).running) await qmpExecute(dirs.qmp, 'cont');
      // Consumed: from here on the disk moves on from the state the snapshot knew.
      discardSnapshot(spec.stateDir!);
      return machine;
    } catch (err) {
      await machine?.stop(0);
      fs.rmSync(dirs.dir, { recursive: true, force: true });
      throw err;
    } finally {
      source.release();
      source.end();
    }
  }

  /** `incoming`: the snapshot stream a restoring qemu reads at INCOMING_FD; `egress`: the cgroup qemu joins. */
  private spawn(spec: MachineSpec, dirs: QemuMachineDirs, launch: QemuLaunch, opts: { fingerprint?: string; restored?: boolean; note?: string; incoming?: number | Readable; egress?: MachineEgress | undefined } = {}): QemuMachine {
    const { assets } = this.opts;
    const egress = opts.egress;
    // slirp forwards the guest's DNS to the first nameserver here: the host's resolvers, or the VM's DNS gate.
    makeJail(dirs.jail, launch.confinement.runAs, egress?.resolvers ?? []);
    const errFd = fs.openSync(`${dirs.dir}/qemu.log`, 'a', 0o600);
    const stdio: (number | Readable | 'ignore')[] = ['ignore', errFd, errFd];
    if (opts.incoming !== undefined) stdio[INCOMING_FD] = opts.incoming;
    const child = spawn(assets.qemuBin, qemuArgs(launch), {
      // Its own process group: a Ctrl+C aimed at the daemon's terminal must not reach machines.
      detached: true,
      stdio,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    fs.closeSync(errFd);
    const childExit = new Promise<MachineExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start machine ${spec.id}: ${assets.qemuBin} did not spawn`);
    this.known.add(spec.id);
    if (egress) {
      // Before the guest is up, so before slirp opens its first socket: a VM with a network never runs unfiltered.
      try {
        joinCgroup(egress.cgroup, child.pid);
      } catch (err) {
        child.kill('SIGKILL');
        throw err;
      }
    }
    const record: QemuMachineRecord = {
      backend: 'qemu',
      id: spec.id,
      pid: child.pid,
      pidStartTime: pidStartTime(child.pid) ?? 0,
      accel: assets.accel,
      runtimeDir: assets.runtimeDir,
      socketPath: dirs.socket,
      qmpSocket: dirs.qmp,
      guestMemoryMiB: launch.memoryMiB,
      spec,
      ...(opts.fingerprint ? { snapshotFingerprint: opts.fingerprint } : {}),
      ...(opts.restored ? { restored: true } : {}),
      confinement: launch.confinement,
      startedAt: new Date().toISOString(),
    };
    writeRecord(dirs.state, record);
    return new QemuMachine(record, dirs, { childExit, consoleBytes: this.opts.limits?.consoleBytes, ...(opts.note ? { note: opts.note } : {}) });
  }

  async adopt(id: string): Promise<QemuMachine | undefined> {
    const dirs = qemuMachineDirs(this.opts.paths.machines, id);
    const record = readRecord<QemuMachineRecord>(dirs.state);
    if (!record || record.backend !== 'qemu' || pidStartTime(record.pid) !== record.pidStartTime) return undefined;
    if (!this.known.has(id)) {
      this.known.add(id);
      // Whatever memory save or restore the earlier daemon had under way on it died with that daemon.
      if (record.spec.stateDir) await abandonDeadSave(record.qmpSocket, record.spec.stateDir, QMP_READY_TIMEOUT_MS);
    }
    // A paused VM stays paused across a daemon restart: ask qemu rather than assume.
    const status = await qmpStatus(record.qmpSocket).catch(() => undefined);
    const machine = new QemuMachine(record, dirs, { paused: status ? !status.running : false, consoleBytes: this.opts.limits?.consoleBytes });
    // The filter stays attached to the VM's cgroup; the DNS gate of an allow-list lives in the daemon and comes back here.
    const egress = this.egressHost ? await MachineEgress.adopt({ machineDir: dirs.dir, id, network: record.spec.network, host: this.egressHost }) : undefined;
    if (egress) {
      const close = () => egress.close();
      void machine.exited.then(close, close).catch(() => undefined);
    }
    return machine;
  }

  async destroy(id: string): Promise<void> {
    const running = await this.adopt(id);
    if (running) await running.stop(0);
    const dir = qemuMachineDirs(this.opts.paths.machines, id).dir;
    await removeMachineEgress(dir, id);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
