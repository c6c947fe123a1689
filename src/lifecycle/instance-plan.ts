// What an instance boots, worked out again at every boot (so rotated secrets and a new pinned release
// apply): an app instance runs its release's pinned image with the app's command, ports and secrets; an
// ad-hoc instance runs its own image (or the base rootfs) and command. A plan that is invalid (an app with
// no command) is a TerminalError: booting again cannot help until what it is planned from changes.
import path from 'node:path';
import { isAegisError, unavailable } from '../errors/codes.js';
import { TerminalError } from '../errors/terminal-error.js';
import { imageEnv } from '../images/image-env.js';
import type { ImageStore, ResolvedImage } from '../images/image-store.js';
import { parseDuration } from '../resources/duration.js';
import type { InstanceSpec } from '../resources/instance.js';
import type { MachineResources } from '../resources/machine-resources.js';
import type { AppSpec } from '../resources/app.js';
import { resolveNetwork, type NetworkPolicy } from '../resources/network-policy.js';
import type { Store } from '../store/store.js';
import type { StoredResource } from '../store/stored-resource.js';
import { effectiveApp } from '../model/effective-app.js';
import { pickRelease } from '../model/releases.js';
import { instanceResources } from '../model/instance-shape.js';
import { resolveEnvironment } from '../model/environment.js';
import { runAsUser } from './run-as-user.js';

export interface IdleTimes {
  pauseAfterMs: number;
  stopAfterMs: number;
}

export interface InstancePlan {
  /** App name; an ad-hoc instance goes by its own name. */
  app: string;
  appId?: string;
  release?: string;
  image?: ResolvedImage;
  command: string[];
  expose: number[];
  env: Record<string, string>;
  cwd?: string;
  /** Who the server (and, by default, each exec) runs as: the spec's user, else the image's USER; absent = root. */
  user?: string;
  resources: MachineResources;
  /** Where the machine may connect to: the app's policy, or an ad-hoc instance's own. */
  network: NetworkPolicy;
  workspaceDir?: string;
  idle: IdleTimes;
}

export interface PlanDeps {
  store: Store;
  images: ImageStore;
  workspacesDir: string;
  idleDefaults: IdleTimes;
}

const idleTimes = (defaults: IdleTimes, ...layers: ({ pauseAfter?: string; stopAfter?: string } | undefined)[]): IdleTimes => {
  const pick = (f: 'pauseAfter' | 'stopAfter') => layers.find((l) => l?.[f] !== undefined)?.[f];
  const pause = pick('pauseAfter');
  const stop = pick('stopAfter');
  return { pauseAfterMs: pause ? parseDuration(pause) : defaults.pauseAfterMs, stopAfterMs: stop ? parseDuration(stop) : defaults.stopAfterMs };
};

/** The reason an instance's status gives for a plan that cannot boot. */
export const INVALID_PLAN = 'InvalidPlan';

export async function planInstance(deps: PlanDeps, inst: StoredResource<InstanceSpec>): Promise<InstancePlan> {
  try {
    return await plan(deps, inst);
  } catch (err) {
    // Bad input stays bad however often it is read; missing or not-yet-ready things (a release still
    // pulling, an image to publish again) may come, so those stay retried.
    if (isAegisError(err) && err.code === 'AEGIS_INVALID') throw new TerminalError(err.message, { reason: INVALID_PLAN, cause: err });
    throw err;
  }
}

/**
 * What a plan is made from, as a string that changes whenever one of them is edited: the instance's spec
 * generation, its app's and that app's kit's. A plan that failed for good is tried again once this changes.
 */
export function planInputs(store: Store, instanceUid: string): string {
  const inst = store.get<InstanceSpec>('Instance', instanceUid);
  const app = inst?.spec.app ? store.get<AppSpec>('App', inst.spec.app) : undefined;
  const kit = app?.spec.kit ? store.get('Kit', app.spec.kit) : undefined;
  return [inst, app, kit].map((r) => r?.metadata.generation ?? '-').join('/');
}

async function plan(deps: PlanDeps, inst: StoredResource<InstanceSpec>): Promise<InstancePlan> {
  const { store, images } = deps;
  const spec = inst.spec;
  if (!spec.app) {
    const image = spec.image ? await images.pull(spec.image, { policy: 'missing' }) : undefined;
    return {
      app: inst.metadata.name,
      ...(image ? { image } : {}),
      command: spec.command ?? [],
      expose: spec.expose ?? [],
      env: { ...imageEnv(image), ...spec.env },
      ...(image?.config.workingDir ? { cwd: image.config.workingDir } : {}),
      ...runAsUser(spec.user, image),
      resources: instanceResources(store, spec),
      network: resolveNetwork(spec.network),
      idle: idleTimes(deps.idleDefaults, spec.idle),
    };
  }
  const app = store.mustGet<AppSpec>('App', spec.app);
  const eff = effectiveApp(store, app);
  if (eff.command.length === 0) throw new TerminalError(`app "${eff.name}" has no command: give it one, or use a kit that has one`, { reason: INVALID_PLAN });
  const release = pickRelease(store, eff.name, spec.release ?? app.spec.release);
  const image = images.pinned(release.metadata.uid);
  if (!image) throw unavailable(`the image of release ${release.metadata.uid} is missing from the cache; publish the app again`);
  return {
    app: eff.name,
    appId: app.metadata.uid,
    release: release.metadata.uid,
    image,
    command: eff.command,
    expose: eff.expose,
    env: { ...imageEnv(image), ...resolveEnvironment(store, app.metadata.uid, spec.env) },
    ...(image.config.workingDir ? { cwd: image.config.workingDir } : {}),
    ...runAsUser(app.spec.user, image),
    resources: instanceResources(store, spec),
    network: resolveNetwork(eff.network),
    workspaceDir: path.join(deps.workspacesDir, eff.name),
    idle: idleTimes(deps.idleDefaults, spec.idle, app.spec.idle),
  };
}

