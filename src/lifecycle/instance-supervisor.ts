// The instances this daemon runs: one InstanceRuntime per Instance resource, its log writer and port
// listeners, and the machines an earlier daemon left behind (adopted, or stopped when their instance is
// gone). The Instance controller decides what should run and when an idle one pauses; this carries it out
// and tells the controller (by instance name) whenever something about an instance changed.
import { EventEmitter, once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { ImageStore } from '../images/image-store.js';
import { exposedPorts } from '../model/instance-shape.js';
import type { InstanceSpec, InstanceStatus } from '../resources/instance.js';
import type { NamedInstance } from '../resources/instance-names.js';
import { InstancePortListeners, type InstancePortListenersOptions, type PortEndpoint, type PortListeners } from '../router/port-listeners.js';
import type { Store } from '../store/store.js';
import type { StoredResource } from '../store/stored-resource.js';
import type { Machine } from '../vmm/backend.js';
import type { MachineHost } from '../vmm/machine-host.js';
import { stopLeftover } from './boot-machine.js';
import { controlInstance, type InstanceAction } from './instance-control.js';
import { execInInstance, type InstanceExec, type InstanceExecRequest } from './instance-exec.js';
import { instanceFilesTarget } from './instance-files.js';
import { MachineFiles } from './machine-files.js';
import { planInputs, planInstance, type IdleTimes } from './instance-plan.js';
import { InstanceRuntime, type InstanceLogSink } from './instance-runtime.js';
import { RouterDirectory } from './router-directory.js';

type Instance = StoredResource<InstanceSpec, InstanceStatus>;

/** Connections open and close with every request: a change of them is reported at most this often. */
const ACTIVITY_REPORT_MS = 100;
/** How long the router's answer to "which instances are served" is kept (see managed()). */
const MANAGED_TTL_MS = 1_000;
/** Names the router asked appNamed() about, kept until an App changes; bounded, as clients choose the names. */
const APP_NAME_CACHE_MAX = 1_000;

/** An instance's resource use at one moment (the dashboard's charts). */
export interface InstanceUsage {
  state: string;
  connections: number;
  /** CPU time used by the current machine so far. */
  cpuMicros?: number;
  memoryBytes?: number;
  memoryLimitBytes?: number;
}

export interface ManagedInstance extends NamedInstance {
  ports: number[];
}

export interface InstanceLogs {
  writer(instance: string, app: string): InstanceLogSink & { close(): void };
  remove(instance: string): void;
  /** Readers following the instance's log right now: they count as activity. */
  followers(instance: string): number;
}

export interface InstanceSupervisorDeps {
  store: Store;
  images: ImageStore;
  host: () => Promise<MachineHost>;
  logs: InstanceLogs;
  /** Where each instance's per-port listeners listen (they forward through the router's directory). */
  ports: InstancePortListenersOptions;
  workspacesDir: string;
  /** Per-instance state (the writable rootfs layer), removed with the instance. */
  instancesDir: string;
  idleDefaults: IdleTimes;
  /** The clock of idle times and back-off (tests pass a fake one). */
  now?: () => number;
}

interface Entry {
  name: string;
  runtime: InstanceRuntime;
  log: InstanceLogSink & { close(): void };
  endpoints: PortEndpoint[];
  /** A pending activity report (see ACTIVITY_REPORT_MS). */
  activityTimer?: NodeJS.Timeout;
}

export class InstanceSupervisor {
  /** What the router routes to: the instances this supervisor runs. */
  readonly directory: RouterDirectory;
  private readonly listeners: PortListeners;
  private readonly entries = new Map<string, Entry>();
  private readonly changes = new EventEmitter();
  private managedCache: { at: number; value: ManagedInstance[] } | undefined;
  private readonly appNames = new Map<string, string | undefined>();
  /**
   * Instances in the store when this supervisor began that it has not taken up (started or removed) yet. Right
   * after a daemon restart the router would otherwise answer 404 for them until their first reconcile.
   */
  private readonly awaited: Set<string>;

  constructor(private readonly deps: InstanceSupervisorDeps) {
    this.changes.setMaxListeners(0);
    this.awaited = new Set(deps.store.list<InstanceSpec>('Instance').flatMap((i) => (i.metadata.deletionTimestamp ? [] : [i.metadata.uid])));
    this.directory = new RouterDirectory(this);
    this.listeners = new InstancePortListeners(this.directory, deps.ports);
    deps.store.onChange((e) => {
      if (e.kind === 'App') this.appNames.clear();
    });
  }

  /** The clock idle times and back-off are measured on. */
  now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Told (by instance name) whenever something about an instance changed: its state, connections or ports. */
  onChange(listener: (name: string) => void): () => void {
    this.changes.on('change', listener);
    return () => this.changes.off('change', listener);
  }

  /** The name of the App called (or with id) `nameOrId`, if there is one. */
  appNamed(nameOrId: string): string | undefined {
    // The router asks on every request routed by an instance's own name or id (the profile's top function when
    // read from the store each time); any App change clears the answers.
    if (this.appNames.has(nameOrId)) return this.appNames.get(nameOrId);
    const name = this.deps.store.get('App', nameOrId)?.metadata.name;
    if (this.appNames.size >= APP_NAME_CACHE_MAX) this.appNames.clear();
    this.appNames.set(nameOrId, name);
    return name;
  }

  /** The runtime of an instance this daemon runs (by uid). */
  runtime(uid: string): InstanceRuntime | undefined {
    return this.entries.get(uid)?.runtime;
  }

  /** The runtime of `uid`, once taken up when it is one of the instances awaited since start (see `awaited`). */
  async runtimeSoon(uid: string, signal: AbortSignal): Promise<InstanceRuntime | undefined> {
    for (;;) {
      const runtime = this.runtime(uid);
      if (runtime || !this.awaited.has(uid)) return runtime;
      await once(this.changes, 'taken-up', { signal });
    }
  }

  private takenUp(uid: string): void {
    if (this.awaited.delete(uid)) this.changes.emit('taken-up', uid);
  }

  /** Readers following the instance's log right now: they keep it awake like a connection. */
  followers(uid: string): number {
    return this.deps.logs.followers(uid);
  }

  /** Keeps an instance awake as a request would (`aegis` keepalive); false when this daemon does not run it. */
  touch(uid: string): boolean {
    this.entries.get(uid)?.runtime.touch();
    return this.entries.has(uid);
  }

  /** Runs a command in a running or paused instance (see instance-exec.ts); AEGIS_CONFLICT when it is stopped. */
  exec(uid: string, req: InstanceExecRequest): Promise<InstanceExec> {
    return execInInstance(uid, this.runtime(uid), req);
  }

  /** Pauses, resumes, stops or restarts an instance by hand (see instance-control.ts). */
  control(uid: string, action: InstanceAction): Promise<void> {
    return controlInstance(uid, this.runtime(uid), action, this.deps.host);
  }

  /** What the instance uses now: CPU time, memory, connections (undefined: this daemon does not run it). */
  async usage(uid: string): Promise<InstanceUsage | undefined> {
    const runtime = this.runtime(uid);
    if (!runtime) return undefined;
    const stats = await runtime.stats();
    return {
      state: runtime.state,
      connections: runtime.status.connections,
      ...(stats?.cpuMicros !== undefined ? { cpuMicros: stats.cpuMicros } : {}),
      ...(stats?.memoryBytes !== undefined ? { memoryBytes: stats.memoryBytes } : {}),
      ...(stats ? { memoryLimitBytes: stats.memoryLimitBytes } : {}),
    };
  }

  /** File operations in a running or paused instance (see instance-files.ts); AEGIS_CONFLICT when it is stopped. */
  files(uid: string, label: string): MachineFiles {
    return new MachineFiles(instanceFilesTarget(this.runtime(uid), label));
  }

  /** The host ports of an instance's listeners (empty until they listen). */
  endpoints(uid: string): PortEndpoint[] {
    return this.entries.get(uid)?.endpoints ?? [];
  }

  /**
   * Every instance this daemon runs with its app name and ports, for the router. It asks on every request, so
   * the answer is kept until an instance starts or goes (or is reconciled) and for at most MANAGED_TTL_MS:
   * reading the store per request cost a good part of the router's throughput.
   */
  managed(): ManagedInstance[] {
    if (this.managedCache && Date.now() - this.managedCache.at < MANAGED_TTL_MS) return this.managedCache.value;
    const value = this.readManaged();
    this.managedCache = { at: Date.now(), value };
    return value;
  }

  /** Drops the router's cached view (an instance or its app changed). */
  invalidate(): void {
    this.managedCache = undefined;
  }

  private readManaged(): ManagedInstance[] {
    const out = [];
    for (const uid of new Set([...this.entries.keys(), ...this.awaited])) {
      const inst = this.deps.store.get<InstanceSpec>('Instance', uid);
      if (!inst || inst.metadata.deletionTimestamp) continue;
      out.push({ uid, name: inst.metadata.name, app: inst.spec.app, sequence: inst.metadata.sequence, deleting: false, ports: exposedPorts(this.deps.store, inst.spec) });
    }
    return out;
  }

  /**
   * Starts running `inst`: its runtime, log and port listeners, then its server right away (or goes on in the
   * machine an earlier daemon left serving it); later wakes come from traffic.
   */
  async start(inst: Instance): Promise<InstanceRuntime> {
    const uid = inst.metadata.uid;
    const running = this.entries.get(uid);
    if (running) return running.runtime;
    const leftover = await this.leftover(inst);
    const app = inst.spec.app ?? inst.metadata.name;
    const log = this.deps.logs.writer(uid, app);
    const runtime = new InstanceRuntime({
      host: this.deps.host,
      plan: () => {
        const cur = this.deps.store.mustGet<InstanceSpec>('Instance', uid);
        return planInstance({ store: this.deps.store, images: this.deps.images, workspacesDir: this.deps.workspacesDir, idleDefaults: this.deps.idleDefaults }, cur);
      },
      planInputs: () => planInputs(this.deps.store, uid),
      log,
      retainImage: (image) => this.deps.images.retain(image),
      changed: () => this.report(uid),
      activity: () => this.reportActivity(uid),
      hostname: app,
      stateDir: path.join(this.deps.instancesDir, uid, 'rootfs'),
      ...(this.deps.now ? { now: this.deps.now } : {}),
    });
    const previous = inst.status.endpoints ?? [];
    const entry: Entry = { name: inst.metadata.name, runtime, log, endpoints: previous.flatMap((e) => (e.hostPort ? [{ port: e.port, hostPort: e.hostPort }] : [])) };
    this.entries.set(uid, entry);
    this.managedCache = undefined;
    this.takenUp(uid);
    void this.listeners
      .listen(uid, exposedPorts(this.deps.store, inst.spec), previous)
      .then((endpoints) => {
        entry.endpoints = endpoints;
        this.report(uid);
      })
      .catch((err: unknown) => log.system(`port listeners failed: ${err instanceof Error ? err.message : String(err)}`));
    const serving = leftover ? runtime.adopt(leftover, { ...(inst.status.release ? { release: inst.status.release } : {}), ...(inst.status.startedAt ? { startedAt: inst.status.startedAt } : {}) }) : runtime.wake();
    void serving.catch(() => undefined);
    return runtime;
  }

  /** The instance is deleted: its machine stops (or the one an earlier daemon left), its listeners, log and state go. */
  async remove(inst: Instance): Promise<void> {
    const uid = inst.metadata.uid;
    const e = this.entries.get(uid);
    this.entries.delete(uid);
    this.managedCache = undefined;
    this.takenUp(uid);
    if (e) {
      clearTimeout(e.activityTimer);
      await e.runtime.delete();
      e.log.close();
    } else await stopLeftover(this.deps.host, inst.status.machineId);
    await this.listeners.close(uid);
    this.deps.logs.remove(uid);
    fs.rmSync(path.join(this.deps.instancesDir, uid), { recursive: true, force: true });
  }

  /**
   * Daemon shutdown: machines keep running (paused ones stay paused) for the next daemon to adopt; only
   * this daemon's side goes (control channels, logs, port listeners). The entries stay until every
   * runtime let go, so a boot that finishes meanwhile still records its machine in the status.
   */
  async close(): Promise<void> {
    const entries = [...this.entries.entries()];
    await Promise.all(
      entries.map(async ([uid, e]) => {
        clearTimeout(e.activityTimer);
        await e.runtime.detach();
        e.log.close();
        await this.listeners.close(uid);
      }),
    );
    this.entries.clear();
    this.changes.removeAllListeners();
  }

  /** The machine an earlier daemon left running for this instance (the runtime adopts it), if any. */
  private async leftover(inst: Instance): Promise<Machine | undefined> {
    const id = inst.status.machineId;
    if (!id) return undefined;
    try {
      const { backend } = await this.deps.host();
      const machine = await backend.adopt(id);
      // Gone while no daemon watched it: what it left on disk goes, the instance boots fresh.
      if (!machine) await backend.destroy(id);
      return machine;
    } catch {
      return undefined; // no backend or no record: the instance boots fresh
    }
  }

  private report(uid: string): void {
    const e = this.entries.get(uid);
    if (e) this.changes.emit('change', e.name);
  }

  private reportActivity(uid: string): void {
    const e = this.entries.get(uid);
    if (!e || e.activityTimer) return;
    e.activityTimer = setTimeout(() => {
      e.activityTimer = undefined;
      this.report(uid);
    }, ACTIVITY_REPORT_MS);
    e.activityTimer.unref();
  }
}
