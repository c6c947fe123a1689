// App controller: reports whether an app can run (kit installed, fits the host, required secrets present,
// image resolves), its latest release and the instance serving it; keeps an instance of an app with
// `serve: true` (app-serving.ts); and, when the app is deleted, deletes what belongs to it: instances,
// releases, app secrets, and with purge its workspace.
import fs from 'node:fs';
import path from 'node:path';
import { isAegisError } from '../../errors/codes.js';
import type { AppSpec, AppStatus } from '../../resources/app.js';
import { SERVING, setCondition, type ConditionUpdate } from '../../resources/conditions.js';
import type { ReleaseSpec, ReleaseStatus } from '../../resources/release.js';
import type { SecretSpec } from '../../resources/secret.js';
import type { Store } from '../../store/store.js';
import type { StoredResource } from '../../store/stored-resource.js';
import type { ReconcileResult } from '../controller.js';
import type { Triggers } from '../manager.js';
import { ensureFinalizer, PURGE_WORKSPACE_LABEL, removeFinalizer } from '../../model/metadata-keys.js';
import { effectiveApp } from '../../model/effective-app.js';
import { createRelease, releasesOf } from '../../model/releases.js';
import { IMAGE_RESOLVED, ImageResolution, type ImageCheck } from '../apps/image-resolution.js';
import { ensureServed, stopServing, type ServingOutcome } from '../apps/app-serving.js';
import { appInstance } from '../../model/app-instance.js';
import type { ImageStore } from '../../images/image-store.js';
import { workspaceDiskPath } from '../../vmm/qemu/disk-image.js';
import { hostMisfit } from '../../config/host-capacity.js';


type App = StoredResource<AppSpec, AppStatus>;

export class AppReconciler {
  private readonly images: ImageResolution;

  constructor(private readonly deps: { store: Store; workspacesDir: string; images: Pick<ImageStore, 'resolve'> }) {
    this.images = new ImageResolution((ref) => deps.images.resolve(ref));
  }

  /**
   * An app's status depends on its kit, secrets and releases: any change to those re-checks every app. An
   * instance made or gone changes which instance serves its app (and a served app may need a new one).
   */
  readonly triggers: Triggers = {
    watches: [
      ...(['Secret', 'Kit', 'Release'] as const).map((kind) => ({ kind, keys: () => this.allApps() })),
      { kind: 'Instance', statusWrites: false, keys: (e) => this.appOfInstance(e.uid) },
    ],
  };

  private allApps(): string[] {
    return this.deps.store.list('App').map((a) => a.metadata.name);
  }

  /** The app an instance serves; every app when the instance is gone and no longer says. */
  private appOfInstance(uid: string): string[] {
    const inst = this.deps.store.get<{ app?: string }>('Instance', uid);
    if (!inst) return this.allApps();
    return inst.spec.app ? [inst.spec.app] : [];
  }

  readonly reconcile = async (name: string): Promise<ReconcileResult | void> => {
    const { store } = this.deps;
    const app = store.get<AppSpec, AppStatus>('App', name);
    if (!app) return;
    if (app.metadata.deletionTimestamp) return this.cleanUp(app);
    // Apps created through the generic resource API lack the finalizer that guarantees clean-up.
    ensureFinalizer(store, 'App', app);
    this.republishIfServed(app);
    const serving = this.serve(app);
    const image = await this.checkImage(app);
    // Resolving may have taken a while: report on the app as it is now (a change meanwhile queued another reconcile).
    const cur = store.get<AppSpec, AppStatus>('App', app.metadata.uid);
    if (!cur || cur.metadata.deletionTimestamp) return;
    store.updateStatus('App', cur.metadata.uid, this.status(cur, image.condition, serving?.condition));
    const retries = [image.retryInMs, serving?.retryInMs].filter((ms): ms is number => ms !== undefined);
    return retries.length > 0 ? { requeueAfterMs: Math.min(...retries) } : undefined;
  };

  /** `serve: true` keeps an instance of the app; `serve: false` removes the one it kept. */
  private serve(app: App): ServingOutcome | undefined {
    const { store } = this.deps;
    if (!app.spec.serve) {
      stopServing(store, app.metadata.name);
      return undefined;
    }
    try {
      return ensureServed(store, app, effectiveApp(store, app));
    } catch (err) {
      // No kit: the Ready condition says so; an instance that cannot be made is reported, not retried in a loop.
      if (!isAegisError(err)) throw err;
      return { condition: { type: SERVING, status: 'False', reason: 'NotServable', message: err.message } };
    }
  }

  /** The `ImageResolved` condition: the app's image (its own or its kit's) resolves to a digest. */
  private async checkImage(app: App): Promise<ImageCheck> {
    let image: string;
    try {
      image = effectiveApp(this.deps.store, app).image;
    } catch (err) {
      if (!isAegisError(err)) throw err;
      return { condition: { type: IMAGE_RESOLVED, status: 'Unknown', reason: 'KitNotFound', message: err.message } };
    }
    return this.images.check(app.metadata.uid, image);
  }

  /**
   * A served app (`serve: true`, or an instance of it running) whose image changed (an apply, an edit) gets
   * a new release, which its instance then restarts on: the change reaches the server without a manual publish.
   */
  private republishIfServed(app: App): void {
    const { store } = this.deps;
    const name = app.metadata.name;
    if (!app.spec.serve && !store.list<{ app?: string }>('Instance').some((i) => i.spec.app === name && !i.metadata.deletionTimestamp)) return;
    const latest = releasesOf(store, name)[0];
    if (!latest || latest.status.phase === 'Pending' || latest.status.phase === 'Pulling') return;
    let image: string;
    try {
      image = effectiveApp(store, app).image;
    } catch {
      return;
    }
    if (latest.spec.image === image) return;
    createRelease(store, name, image, { source: 'aegisd' });
  }

  private status(app: App, image: ConditionUpdate, serving: ConditionUpdate | undefined): AppStatus {
    const { store } = this.deps;
    const releases = releasesOf(store, app.metadata.name);
    const latest = releases[0];
    const pinned = app.spec.release ? releases.find((r) => r.spec.label === app.spec.release || r.metadata.uid === app.spec.release) : releases.find((r) => r.status.phase === 'Ready');
    let ready: { status: 'True' | 'False'; reason: string; message: string };
    try {
      const eff = effectiveApp(store, app);
      const available = new Set<string>();
      for (const s of store.list<SecretSpec>('Secret')) {
        if (s.spec.app === app.metadata.name || s.spec.app === undefined) for (const k of Object.keys(s.spec.data)) available.add(k);
      }
      const missing = eff.kitSecrets.required.filter((k) => !available.has(k));
      const tooLarge = hostMisfit(eff.resources);
      ready = tooLarge
        ? { status: 'False', reason: 'ExceedsHost', message: tooLarge }
        : missing.length > 0
          ? { status: 'False', reason: 'MissingSecrets', message: `missing required secret${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (set with: aegis secret set ${app.metadata.name} KEY VALUE)` }
          : image.status === 'False'
            ? { status: 'False', reason: image.reason, message: image.message }
            : { status: 'True', reason: 'Ready', message: 'the app can run' };
    } catch (err) {
      if (!isAegisError(err)) throw err;
      ready = { status: 'False', reason: 'KitNotFound', message: err.message };
    }
    const { latestRelease: _l, release: _r, instance: _i, ...rest } = app.status;
    let conditions = setCondition(setCondition(app.status.conditions ?? [], image, new Date()), { type: 'Ready', ...ready }, new Date());
    // Serving is reported while `serve: true` asks for it, and not at all otherwise.
    conditions = serving ? setCondition(conditions, serving, new Date()) : conditions.filter((c) => c.type !== SERVING);
    const instance = appInstance(store, app.metadata.name);
    return {
      ...rest,
      observedGeneration: app.metadata.generation,
      conditions,
      ...(latest ? { latestRelease: latest.metadata.name } : {}),
      ...(pinned ? { release: pinned.metadata.name } : {}),
      ...(instance ? { instance: instance.metadata.name } : {}),
    };
  }

  private cleanUp(app: App): ReconcileResult | void {
    const { store } = this.deps;
    const name = app.metadata.name;
    // Instances first: they run the releases' images.
    const instances = store.list<{ app?: string }>('Instance').filter((i) => i.spec.app === name);
    for (const i of instances) if (!i.metadata.deletionTimestamp) store.delete('Instance', i.metadata.uid);
    if (instances.length > 0) return { requeueAfterMs: 100 };
    const releases = store.list<ReleaseSpec, ReleaseStatus>('Release').filter((r) => r.spec.app === name);
    for (const r of releases) if (!r.metadata.deletionTimestamp) store.delete('Release', r.metadata.uid);
    for (const s of store.list<SecretSpec>('Secret')) if (s.spec.app === name) store.delete('Secret', s.metadata.uid);
    // Releases unpin their images through their own finalizer: wait until they are gone.
    if (store.list<ReleaseSpec>('Release').some((r) => r.spec.app === name)) return { requeueAfterMs: 100 };
    if (app.metadata.labels[PURGE_WORKSPACE_LABEL] === 'true') {
      const dir = path.join(this.deps.workspacesDir, name);
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(workspaceDiskPath(dir), { force: true }); // where qemu VMs keep it
    }
    this.images.forget(app.metadata.uid);
    removeFinalizer(store, 'App', app.metadata.uid);
  }
}
