// Instance controller: one InstanceRuntime per Instance resource (booted when created, woken by traffic,
// paused and stopped when idle), a stable host port per exposed port, and the status the CLI shows.
import fs from 'node:fs';
import path from 'node:path';
import type { ImageStore } from '../../images/image-store.js';
import { setCondition } from '../../resources/conditions.js';
import type { Endpoint, InstanceSpec, InstanceStatus } from '../../resources/instance.js';
import type { NamedInstance } from '../../resources/instance-names.js';
import type { Store } from '../../store/store.js';
import type { StoredResource } from '../../store/stored-resource.js';
import type { Machine } from '../../vmm/backend.js';
import type { MachineHost } from '../../vmm/machine-host.js';
import type { ReconcileResult } from '../controller.js';
import type { AppSpec } from '../../resources/app.js';
import { ensureFinalizer, removeFinalizer } from '../../model/metadata-keys.js';
import { effectiveApp } from '../../model/effective-app.js';
import { planInstance, type IdleTimes } from '../../lifecycle/instance-plan.js';
import { pickRelease } from '../../model/releases.js';
import { exposedPorts } from '../../model/instance-shape.js';
import { InstanceRuntime, type InstanceLogSink } from '../../lifecycle/instance-runtime.js';

/** Idle timers are checked this often; tests use sub-second idle times. */
const TICK_MS = 100;
/** Last Active moves on every request; the stored copy is refreshed at most this often. */
const ACTIVITY_WRITE_MS = 2_000;

type Instance = StoredResource<InstanceSpec, InstanceStatus>;

export interface ManagedInstance extends NamedInstance {
  ports: number[];
}

const MANAGED_TTL_MS = 1_000;

export interface InstanceLogs {
  writer(instance: string, app: string): InstanceLogSink & { close(): void };
  remove(instance: string): void;
  /** Readers following the instance's log right now: they count as activity. */
  followers(instance: string): number;
}

/** Per-port listeners, opened by the daemon (they live as long as the instance, across machines). */
export interface PortListeners {
  listen(instance: string, ports: number[], previous: Endpoint[]): Promise<Endpoint[]>;
  close(instance: string): Promise<void>;
}

export interface InstanceControllerDeps {
  store: Store;
  images: ImageStore;
  host: () => Promise<MachineHost>;
  logs: InstanceLogs;
  listeners: PortListeners;
  workspacesDir: string;
  /** Per-instance state (the writable rootfs layer), removed with the instance. */
  instancesDir: string;
  idleDefaults: IdleTimes;
}

interface Entry {
  runtime: InstanceRuntime;
  log: InstanceLogSink & { close(): void };
  endpoints: Endpoint[];
  lastWrite: number;
  lastActiveWritten: string;
  connsWritten: number;
}

export class InstanceReconciler {
  private readonly entries = new Map<string, Entry>();
  private readonly timer: NodeJS.Timeout;
  private managedCache: { at: number; value: ManagedInstance[] } | undefined;

  constructor(private readonly deps: InstanceControllerDeps) {
    this.timer = setInterval(() => {
      for (const [uid, e] of this.entries) {
        if (this.deps.logs.followers(uid) > 0) e.runtime.touch();
        void e.runtime.tick().catch(() => undefined);
        // CONNS and Last Active change without state changes: CONNS is written at once, Last Active now and then.
        const st = e.runtime.status;
        if (st.connections !== e.connsWritten || (Date.now() - e.lastWrite >= ACTIVITY_WRITE_MS && st.lastActiveAt !== e.lastActiveWritten)) this.writeStatus(uid);
      }
    }, TICK_MS);
    this.timer.unref();
  }

  /** The name of the App called (or with id) `nameOrId`, if there is one. */
  appNamed(nameOrId: string): string | undefined {
    return this.deps.store.get('App', nameOrId)?.metadata.name;
  }

  /** The runtime of an instance this daemon manages (by uid). */
  runtime(uid: string): InstanceRuntime | undefined {
    return this.entries.get(uid)?.runtime;
  }

  /**
   * Every managed instance with its app name and ports, for the router. It asks on every request, so the
   * answer is kept until an instance is reconciled (created, deleted, or its app changed) and for at most
   * MANAGED_TTL_MS: reading the store per request cost a good part of the router's throughput.
   */
  managed(): ManagedInstance[] {
    if (this.managedCache && Date.now() - this.managedCache.at < MANAGED_TTL_MS) return this.managedCache.value;
    const value = this.readManaged();
    this.managedCache = { at: Date.now(), value };
    return value;
  }

  private readManaged(): ManagedInstance[] {
    const out = [];
    for (const uid of this.entries.keys()) {
      const inst = this.deps.store.get<InstanceSpec>('Instance', uid);
      if (!inst || inst.metadata.deletionTimestamp) continue;
      out.push({ uid, name: inst.metadata.name, app: inst.spec.app, sequence: inst.metadata.sequence, deleting: false, ports: exposedPorts(this.deps.store, inst.spec) });
    }
    return out;
  }

  readonly reconcile = async (name: string): Promise<ReconcileResult | void> => {
    const { store } = this.deps;
    this.managedCache = undefined;
    const inst = store.get<InstanceSpec, InstanceStatus>('Instance', name);
    if (!inst) return;
    const uid = inst.metadata.uid;
    if (inst.metadata.deletionTimestamp) {
      const e = this.entries.get(uid);
      this.entries.delete(uid);
      if (e) {
        await e.runtime.delete();
        e.log.close();
      } else await this.stopLeftover(inst);
      await this.deps.listeners.close(uid);
      this.deps.logs.remove(uid);
      fs.rmSync(path.join(this.deps.instancesDir, uid), { recursive: true, force: true });
      removeFinalizer(store, 'Instance', uid);
      return;
    }
    ensureFinalizer(store, 'Instance', inst);
    const entry = this.entries.get(uid);
    if (entry) {
      const why = this.staleBecause(inst, entry.runtime);
      if (why) await entry.runtime.restart(why);
      return;
    }
    this.start(inst, await this.leftover(inst));
  };

  /**
   * Daemon shutdown: machines keep running (paused ones stay paused) for the next daemon to adopt; only
   * this daemon's side goes (control channels, logs, port listeners). The entries stay until every
   * runtime let go, so a boot that finishes meanwhile still records its machine in the status.
   */
  async close(): Promise<void> {
    clearInterval(this.timer);
    const entries = [...this.entries.entries()];
    await Promise.all(
      entries.map(async ([uid, e]) => {
        await e.runtime.detach();
        e.log.close();
        await this.deps.listeners.close(uid);
      }),
    );
    this.entries.clear();
  }

  private start(inst: Instance, leftover?: Machine): void {
    const uid = inst.metadata.uid;
    const app = inst.spec.app ?? inst.metadata.name;
    const log = this.deps.logs.writer(uid, app);
    const runtime = new InstanceRuntime({
      host: this.deps.host,
      plan: () => {
        const cur = this.deps.store.mustGet<InstanceSpec>('Instance', uid);
        return planInstance({ store: this.deps.store, images: this.deps.images, workspacesDir: this.deps.workspacesDir, idleDefaults: this.deps.idleDefaults }, cur);
      },
      log,
      retainImage: (image) => this.deps.images.retain(image),
      changed: () => this.writeStatus(uid),
      hostname: app,
      stateDir: path.join(this.deps.instancesDir, uid, 'rootfs'),
    });
    const entry: Entry = { runtime, log, endpoints: inst.status.endpoints ?? [], lastWrite: 0, lastActiveWritten: '', connsWritten: 0 };
    this.entries.set(uid, entry);
    this.managedCache = undefined;
    void this.deps.listeners
      .listen(uid, exposedPorts(this.deps.store, inst.spec), inst.status.endpoints ?? [])
      .then((endpoints) => {
        entry.endpoints = endpoints;
        this.writeStatus(uid);
      })
      .catch((err: unknown) => log.system(`port listeners failed: ${err instanceof Error ? err.message : String(err)}`));
    // Serving starts right away (or goes on, in a machine an earlier daemon left); later wakes come from traffic.
    const serving = leftover ? runtime.adopt(leftover, { ...(inst.status.release ? { release: inst.status.release } : {}), ...(inst.status.startedAt ? { startedAt: inst.status.startedAt } : {}) }) : runtime.wake();
    void serving.catch(() => undefined);
  }

  /**
   * Why a running app instance no longer matches its app (a new release is Ready, the command or ports
   * changed), or undefined. Env and secret changes are not a reason: they apply at the next boot.
   */
  private staleBecause(inst: Instance, runtime: InstanceRuntime): string | undefined {
    const plan = runtime.bootedPlan;
    if (!plan || !inst.spec.app) return undefined;
    const app = this.deps.store.get<AppSpec>('App', inst.spec.app);
    if (!app) return undefined;
    try {
      const eff = effectiveApp(this.deps.store, app);
      const release = pickRelease(this.deps.store, eff.name, inst.spec.release ?? app.spec.release);
      if (release.metadata.uid !== plan.release) return `release ${release.metadata.uid} is ready`;
      if (JSON.stringify(eff.command) !== JSON.stringify(plan.command)) return 'the command changed';
      if (JSON.stringify(eff.expose) !== JSON.stringify(plan.expose)) return 'the exposed ports changed';
    } catch {
      // No runnable release or no kit: keep serving what runs rather than tear it down.
    }
    return undefined;
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

  /** A machine an earlier daemon left running for an instance deleted since: stop it. */
  private async stopLeftover(inst: Instance): Promise<void> {
    const id = inst.status.machineId;
    if (!id) return;
    try {
      const { backend } = await this.deps.host();
      const machine = await backend.adopt(id);
      await machine?.stop(1000);
      await backend.destroy(id);
    } catch {
      /* nothing left to stop */
    }
  }

  private writeStatus(uid: string): void {
    const e = this.entries.get(uid);
    const cur = this.deps.store.get<InstanceSpec, InstanceStatus>('Instance', uid);
    if (!e || !cur || cur.metadata.deletionTimestamp) return;
    const s = e.runtime.status;
    const ready = s.state === 'running' || s.state === 'paused';
    const { machineId: _m, startedAt: _s, release: _r, ...rest } = cur.status;
    const next: InstanceStatus = {
      ...rest,
      observedGeneration: cur.metadata.generation,
      state: s.state,
      connections: s.connections,
      lastActiveAt: s.lastActiveAt,
      ...(s.startedAt ? { startedAt: s.startedAt } : {}),
      ...(s.machineId ? { machineId: s.machineId } : {}),
      ...(s.release ? { release: s.release } : {}),
      endpoints: e.endpoints,
      conditions: setCondition(cur.status.conditions ?? [], { type: 'Ready', status: ready ? 'True' : s.state === 'failed' ? 'False' : 'Unknown', reason: s.reason, message: s.message }, new Date()),
    };
    e.lastWrite = Date.now();
    e.lastActiveWritten = s.lastActiveAt;
    e.connsWritten = s.connections;
    this.deps.store.updateStatus('Instance', uid, next);
  }
}
