// Instance controller: every Instance resource runs in the supervisor (started when created, restarted when
// its app changed, stopped and cleaned up when deleted). It owns the transitions over time: an idle instance
// pauses and stops when the idle policy says so, a failed boot is tried again after its back-off, and each
// pass schedules the next look (requeueAfter) instead of a timer polling every instance. Its status shows
// what the runtime reports.
import { setCondition } from '../../resources/conditions.js';
import type { InstanceSpec, InstanceStatus } from '../../resources/instance.js';
import type { Store } from '../../store/store.js';
import type { StoredResource } from '../../store/stored-resource.js';
import type { ReconcileResult } from '../controller.js';
import type { Triggers } from '../manager.js';
import type { AppSpec } from '../../resources/app.js';
import { ensureFinalizer, removeFinalizer } from '../../model/metadata-keys.js';
import { effectiveApp } from '../../model/effective-app.js';
import { pickRelease } from '../../model/releases.js';
import type { InstanceRuntime } from '../../lifecycle/instance-runtime.js';
import type { InstanceSupervisor } from '../../lifecycle/instance-supervisor.js';
import { idleDecision } from '../../lifecycle/idle-policy.js';
import type { MachineHost } from '../../vmm/machine-host.js';

type Instance = StoredResource<InstanceSpec, InstanceStatus>;

/** While an instance is in use, Last Active in its status is brought up to date this often. */
const ACTIVE_REFRESH_MS = 2_000;

export interface InstanceControllerDeps {
  store: Store;
  supervisor: InstanceSupervisor;
  /** The backend (its name and whether it can pause); rejects when none can run here. */
  host: () => Promise<MachineHost>;
  /** Where the router listens (each endpoint's `url`), when it does. */
  routerUrl: string | undefined;
}

export class InstanceReconciler {
  constructor(private readonly deps: InstanceControllerDeps) {}

  /**
   * A changed app, or a release of it (a new one Ready), may mean the app's instances must restart on the
   * new definition; a change the supervisor reports (a state, connections) is written and acted on.
   */
  readonly triggers: Triggers = {
    events: (enqueue) => this.deps.supervisor.onChange(enqueue),
    watches: [
      { kind: 'App', keys: (e) => this.instancesOf(e.name) },
      { kind: 'Release', keys: (e) => this.instancesOf(this.deps.store.get<{ app: string }>('Release', e.uid)?.spec.app) },
    ],
  };

  /** Names of the instances of `app` (undefined: of every app, when a deleted release no longer says which). */
  private instancesOf(app: string | undefined): string[] {
    return this.deps.store
      .list<InstanceSpec>('Instance')
      .filter((i) => i.spec.app !== undefined && (app === undefined || i.spec.app === app))
      .map((i) => i.metadata.name);
  }

  readonly reconcile = async (name: string): Promise<ReconcileResult | void> => {
    const { store, supervisor } = this.deps;
    supervisor.invalidate();
    const inst = store.get<InstanceSpec, InstanceStatus>('Instance', name);
    if (!inst) return;
    const uid = inst.metadata.uid;
    if (inst.metadata.deletionTimestamp) {
      await supervisor.remove(inst);
      removeFinalizer(store, 'Instance', uid);
      return;
    }
    ensureFinalizer(store, 'Instance', inst);
    let runtime = supervisor.runtime(uid);
    if (runtime) {
      const why = this.staleBecause(inst, runtime);
      if (why) await runtime.restart(why);
    } else runtime = await supervisor.start(inst);
    const next = await this.step(uid, runtime);
    this.writeStatus(uid);
    return next;
  };

  /** The transition due now, if any, and when to look again. */
  private async step(uid: string, runtime: InstanceRuntime): Promise<ReconcileResult | void> {
    // A plan that failed for good (TerminalError) is tried again only once the instance, its app or kit was
    // edited; until then there is nothing to look at again (its status says why it failed).
    if (runtime.inputsChangedSinceFailure()) {
      void runtime.wake().catch(() => undefined);
      return;
    }
    const retryIn = runtime.retryInMs();
    if (retryIn !== undefined) {
      if (retryIn > 0) return { requeueAfterMs: retryIn };
      // The boot is the instance's: it goes on after this pass, and its outcome comes back as a change.
      void runtime.wake().catch(() => undefined);
      return;
    }
    // Only a running or paused machine can go idle (and then the backend is there).
    if (runtime.state !== 'running' && runtime.state !== 'paused') return;
    const { backend } = await this.deps.host();
    // A log reader following it is activity as long as it follows (nothing tells when it leaves: looked at
    // every ACTIVE_REFRESH_MS meanwhile); CPU above the noise floor is activity too.
    const followed = this.deps.supervisor.followers(uid) > 0;
    if (followed) runtime.touch();
    else if (runtime.state === 'running' && (await runtime.sampleCpu())) runtime.touch();
    const facts = runtime.idleFacts(followed, backend.capabilities.pauseResume, backend.name);
    if (!facts) return;
    const decision = idleDecision(facts, this.deps.supervisor.now());
    // Both change the state: the supervisor reports it, which brings the next pass.
    if (decision.do === 'pause') await runtime.pause(decision.message, facts);
    else if (decision.do === 'stop') await runtime.stopIdle(decision.message, decision.suspend, facts);
    else if (facts.active) return { requeueAfterMs: Math.min(decision.checkInMs ?? ACTIVE_REFRESH_MS, ACTIVE_REFRESH_MS) };
    else if (decision.checkInMs !== undefined) return { requeueAfterMs: decision.checkInMs };
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

  private writeStatus(uid: string): void {
    const runtime = this.deps.supervisor.runtime(uid);
    const cur = this.deps.store.get<InstanceSpec, InstanceStatus>('Instance', uid);
    if (!runtime || !cur || cur.metadata.deletionTimestamp) return;
    const s = runtime.status;
    const ready = s.state === 'running' || s.state === 'paused';
    const { machineId: _m, startedAt: _s, release: _r, ...rest } = cur.status;
    const url = this.deps.routerUrl;
    const next: InstanceStatus = {
      ...rest,
      observedGeneration: cur.metadata.generation,
      state: s.state,
      connections: s.connections,
      lastActiveAt: s.lastActiveAt,
      ...(s.startedAt ? { startedAt: s.startedAt } : {}),
      ...(s.machineId ? { machineId: s.machineId } : {}),
      ...(s.release ? { release: s.release } : {}),
      endpoints: this.deps.supervisor.endpoints(uid).map((e) => ({ ...e, ...(url ? { url } : {}) })),
      conditions: setCondition(cur.status.conditions ?? [], { type: 'Ready', status: ready ? 'True' : s.state === 'failed' ? 'False' : 'Unknown', reason: s.reason, message: s.message }, new Date()),
    };
    this.deps.store.updateStatus('Instance', uid, next);
  }
}
