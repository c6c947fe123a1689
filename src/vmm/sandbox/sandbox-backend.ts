// The sandbox backend: machines as Linux namespaces + overlayfs + cgroups, with the harness as PID 1.
// Not a VM: the guest shares the host kernel, and `aegis doctor` says so.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { AegisPaths } from '../../config/paths.js';
import { conflict } from '../../errors/codes.js';
import type { Backend, BackendCapabilities, BackendProbe, MachineExit, MachineLimits, MachineSpec } from '../backend.js';
import { readRuntimeInfo } from '../runtime/node-runtime.js';
import { cgroupVersion, MachineCgroups } from './cgroups.js';
import { ensureDevTemplate } from './dev-template.js';
import { assertOverlayPath, guestFstab, tmpfsSizes } from './guest-mounts.js';
import { GUEST_CAPABILITIES, GUEST_CONTROL_SOCKET, HARNESS_REAL_UID, LIFELINE_FD, OUTER_SCRIPT, SETUP_SCRIPT } from './launch-script.js';
import { stateDiskPath, writableDisk } from '../rootfs/writable-disk.js';
import { machineDirs, readRecord, writeRecord, type MachineRecord } from './machine-state.js';
import { pidStartTime } from '../process-util.js';
import { probeSandbox } from './probe.js';
import { SandboxMachine } from './sandbox-machine.js';
import { checkMachineSpec } from '../check-machine-spec.js';
import { GuestIdentities } from './guest-identity.js';
import { prepareGuestSources, type GuestSources } from './guest-sources.js';
import { sandboxSeccompFilter } from './seccomp-filter.js';
import { hostEgressPolicy, type EgressPolicy } from '../network/egress-bpf.js';
import { MachineEgress, removeMachineEgress } from '../network/machine-egress.js';
import { EGRESS_NONE, resolveNetwork } from '../../resources/network-policy.js';
import { attachGuestNetwork, guestNetworkSupport, GUEST_NAMESERVER, MachineGoneError } from './guest-network.js';

export const SANDBOX_CAPABILITIES: BackendCapabilities = {
  pauseResume: true,
  memorySnapshots: false,
  bootFromDiskLayers: false,
  workspaceMounts: true,
  isolation: 'namespace',
};

/** A network setup that fails this close to the machine's own end failed because of it. */
const DIED_WITHIN_MS = 500;
/** The harness (a Node process) lives in the machine's cgroup too: the workload gets memoryMiB on top of it. */
const HARNESS_MEMORY_MIB = 64;
const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class SandboxBackend implements Backend {
  readonly name = 'sandbox' as const;
  readonly capabilities = SANDBOX_CAPABILITIES;
  readonly bootTimeoutMs = 30_000;
  private readonly loader: string;
  private devTemplate: Promise<string> | undefined;

  private readonly identities: GuestIdentities;
  /** The host's own addresses and resolvers as read at start; undefined: machines get no network here. */
  private readonly egressHost: EgressPolicy | undefined;

  constructor(
    private readonly opts: {
      paths: AegisPaths;
      runtimeDir: string;
      limits?: MachineLimits;
      /**
       * Guest root is host root: no user namespace (sandbox.allowHostRoot, where the host cannot give one).
       * Capabilities, no_new_privs, the system call filter and the masked /proc still apply.
       */
      hostRoot?: boolean;
      /** Where id ranges are claimed (id-ranges.ts); tests use their own. */
      idRangeRegistry?: string;
    },
  ) {
    this.loader = readRuntimeInfo(opts.runtimeDir).loader;
    this.identities = new GuestIdentities(opts.idRangeRegistry);
    this.egressHost = guestNetworkSupport().supported ? hostEgressPolicy() : undefined;
  }

  probe(): Promise<BackendProbe> {
    return probeSandbox({ dataDir: this.opts.paths.data, allowHostRoot: this.opts.hostRoot });
  }

  async start(spec: MachineSpec): Promise<SandboxMachine> {
    const { paths, runtimeDir } = this.opts;
    checkMachineSpec(spec);
    for (const layer of spec.rootfsLayers) assertOverlayPath(layer, 'rootfs layer path');
    const dirs = machineDirs(paths.machines, spec.id);
    assertOverlayPath(dirs.dir, 'machine dir');
    if (await this.adopt(spec.id)) throw conflict(`machine ${spec.id} is already running`);
    fs.rmSync(dirs.dir, { recursive: true, force: true });
    for (const d of [dirs.root, dirs.layer]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });
    // A state dir keeps the writable disk beyond this machine (an instance's rootfs changes).
    const diskMiB = spec.diskMiB ?? this.opts.limits?.diskMiB;
    const disk = spec.stateDir ? await keptStateDisk(spec.stateDir, diskMiB) : await writableDisk(dirs.disk, { sizeMiB: diskMiB, journal: false });
    const devTemplate = await (this.devTemplate ??= ensureDevTemplate(paths.rootfs));
    const seccompFilter = sandboxSeccompFilter().toString('base64');

    // Guest root is the first id of a host range of the machine's own (guest-identity.ts).
    const identity = this.opts.hostRoot ? undefined : await this.identities.claim(dirs.dir);
    let sources: GuestSources;
    try {
      sources = prepareGuestSources({
        dirs,
        dataDir: paths.data,
        layers: spec.rootfsLayers,
        devTemplate,
        runtime: runtimeDir,
        ...(spec.workspaceDir ? { workspace: spec.workspaceDir } : {}),
        disk,
        ...(identity ? { idmapUserns: identity.mountNs } : {}),
      });
    } catch (err) {
      if (identity) this.identities.release(identity.range, dirs.dir);
      throw err;
    }
    // The setup reaches them (and the user namespace) through the daemon's fd table: the daemon lets go of
    // the mounts once the machine has booted (SandboxMachine).
    const bootFds = sources.fds;
    const release = () => {
      for (const fd of bootFds.splice(0)) fs.closeSync(fd);
    };
    let cgroups: MachineCgroups | undefined;
    let machine: SandboxMachine;
    let networked = false;
    try {
      fs.writeFileSync(
        dirs.fstab,
        guestFstab({
          root: dirs.root,
          devTemplate: sources.devTemplate,
          layerDir: dirs.layer,
          runtimeDir: sources.runtime,
          ...(sources.workspace ? { workspaceDir: sources.workspace } : {}),
          memoryMiB: spec.memoryMiB,
          ...(identity ? { guestRootId: identity.range.base } : {}),
          hostHas: fs.existsSync,
        }),
        { mode: 0o600 },
      );
      for (const layer of sources.layers) assertOverlayPath(layer, 'rootfs layer path');
      const version = cgroupVersion() ?? 1;
      cgroups = MachineCgroups.forMachine(spec.id, version);
      const procs = await cgroups.create({ memoryBytes: (spec.memoryMiB + HARNESS_MEMORY_MIB) * 1024 * 1024, vcpus: spec.vcpus });
      // Without slirp4netns or the filter (see guestNetworkSupport) a machine keeps only lo, whatever its policy says.
      networked = this.egressHost !== undefined && resolveNetwork(spec.network).egress !== EGRESS_NONE;

      const consoleFd = fs.openSync(dirs.console, 'a', 0o600);
      const lower = [...sources.layers].reverse().join(':');
      const args = [dirs.root, lower, dirs.layer, dirs.fstab, spec.hostname, this.loader, String(HARNESS_REAL_UID), String(tmpfsSizes(spec.memoryMiB).sysvShmPages)];
      args.push(identity ? String(identity.range.base) : '', `/proc/${process.pid}/fd`, identity ? String(identity.processNs) : '', ...sources.moves.flat());
      const child = spawn('/bin/sh', ['-c', OUTER_SCRIPT, 'aegis-launch', ...args], {
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
          AEGIS_SECCOMP_FILTER: seccompFilter,
          AEGIS_LIFELINE: dirs.lifeline,
          AEGIS_LIFELINE_FD: String(LIFELINE_FD),
          HOME: '/root',
          HOSTNAME: spec.hostname,
          ...(networked ? { AEGIS_NAMESERVER: GUEST_NAMESERVER } : {}),
        },
      });
      fs.closeSync(consoleFd);
      const childExit = new Promise<MachineExit>((resolve) => {
        child.once('exit', (code, signal) => resolve({ code, signal }));
        child.once('error', () => resolve({ code: null, signal: null }));
      });
      child.unref();
      if (child.pid === undefined) throw new Error(`could not start machine ${spec.id}: /bin/sh did not spawn`);
      const record: MachineRecord = {
        backend: 'sandbox',
        id: spec.id,
        pid: child.pid,
        pidStartTime: pidStartTime(child.pid) ?? 0,
        cgroupVersion: version,
        cgroupDirs: cgroups.dirs,
        runtimeDir,
        ...(identity ? { idRange: identity.range } : {}),
        spec,
        startedAt: new Date().toISOString(),
      };
      writeRecord(dirs.state, record);
      machine = new SandboxMachine(record, dirs, cgroups, this.opts.limits?.consoleBytes, childExit, { release, timeoutMs: this.bootTimeoutMs });
    } catch (err) {
      release();
      await cgroups?.remove().catch(() => undefined);
      if (identity) this.identities.release(identity.range, dirs.dir);
      throw err;
    }
    if (networked) await this.attachNetwork(machine, dirs.dir, machine.pid);
    return machine;
  }

  /**
   * Gives a just-started machine its network while its harness boots: the egress cgroup and filter, then
   * slirp4netns in it. Both go when the machine does. A machine whose network cannot be set up is stopped.
   */
  private async attachNetwork(machine: SandboxMachine, machineDir: string, unsharePid: number): Promise<void> {
    const spec = machine.record.spec;
    let egress: MachineEgress | undefined;
    try {
      egress = await MachineEgress.open({ machineDir, id: spec.id, network: spec.network, host: this.egressHost! });
      if (!egress) return;
      const close = egress.close.bind(egress);
      void machine.exited.then(close, close).catch(() => undefined);
      await attachGuestNetwork({ unsharePid, egress, machineDir, timeoutMs: this.bootTimeoutMs });
    } catch (err) {
      await egress?.close().catch(() => undefined);
      // A machine that dies on its own takes its network setup down with it (its namespace goes, its egress is
      // closed): no network failure, and connect() says why, with the console. Such an end follows at once.
      const died = await Promise.race([machine.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), DIED_WITHIN_MS))]);
      if (died || err instanceof MachineGoneError) return;
      await machine.stop(0).catch(() => undefined);
      throw new Error(`machine ${spec.id}: cannot set up its network: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  async adopt(id: string): Promise<SandboxMachine | undefined> {
    const dirs = machineDirs(this.opts.paths.machines, id);
    const record = readRecord(dirs.state);
    if (!record || pidStartTime(record.pid) !== record.pidStartTime) return undefined;
    const machine = new SandboxMachine(record, dirs, recordedCgroups(record), this.opts.limits?.consoleBytes);
    // slirp4netns runs on; the DNS gate of an allow-list lives in the daemon and comes back here.
    const egress = this.egressHost ? await MachineEgress.adopt({ machineDir: dirs.dir, id, network: record.spec.network, host: this.egressHost }) : undefined;
    if (egress) {
      const close = egress.close.bind(egress);
      void machine.exited.then(close, close).catch(() => undefined);
    }
    return machine;
  }

  async destroy(id: string): Promise<void> {
    const dirs = machineDirs(this.opts.paths.machines, id);
    const running = await this.adopt(id);
    if (running) await running.stop(0);
    const record = readRecord(dirs.state);
    const cgroups = record ? recordedCgroups(record) : MachineCgroups.forMachine(id, cgroupVersion() ?? 1);
    await cgroups.killAll(); // what outlived the machine's unshare process
    await cgroups.remove();
    await removeMachineEgress(dirs.dir, id); // slirp4netns, when the machine died without this daemon
    // Its processes are gone: another machine may have its ids now.
    if (record?.idRange) this.identities.release(record.idRange, dirs.dir);
    fs.rmSync(dirs.dir, { recursive: true, force: true });
  }
}

function recordedCgroups(record: MachineRecord): MachineCgroups {
  return record.cgroupDirs ? MachineCgroups.fromDirs(record.cgroupVersion, record.cgroupDirs) : MachineCgroups.forMachine(record.id, record.cgroupVersion);
}

/**
 * The instance's disk in its state dir. A state dir from before disks holds its rootfs changes as plain
 * upper/ and work/ directories: the first boot moves them onto a new disk, so nothing is lost.
 */
async function keptStateDisk(stateDir: string, sizeMiB: number | undefined): Promise<string> {
  const image = stateDiskPath(stateDir);
  const oldUpper = path.join(stateDir, 'upper');
  if (fs.existsSync(image) || !fs.existsSync(oldUpper)) return writableDisk(image, { sizeMiB });
  const staging = path.join(stateDir, 'migrate');
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { mode: 0o700 });
  fs.renameSync(oldUpper, path.join(staging, 'upper'));
  // Its mode is that of the guest's `/`: a non-root image USER needs 0755 (older layers were made 0700).
  fs.chmodSync(path.join(staging, 'upper'), 0o755);
  try {
    await writableDisk(image, { sizeMiB, seedDir: staging });
  } catch (err) {
    fs.renameSync(path.join(staging, 'upper'), oldUpper);
    throw err;
  }
  fs.rmSync(staging, { recursive: true, force: true });
  fs.rmSync(path.join(stateDir, 'work'), { recursive: true, force: true });
  return image;
}
