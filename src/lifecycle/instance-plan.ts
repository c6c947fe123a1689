// What an instance boots, worked out again at every boot (so rotated secrets and a new pinned release
// apply): an app instance runs its release's pinned image with the app's command, ports and secrets; an
// ad-hoc instance runs its own image (or the base rootfs) and command.
import path from 'node:path';
import { invalid, unavailable } from '../errors/codes.js';
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

export async function planInstance(deps: PlanDeps, inst: StoredResource<InstanceSpec>): Promise<InstancePlan> {
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
  const release = pickRelease(store, eff.name, spec.release ?? app.spec.release);
  const image = images.pinned(release.metadata.uid);
  if (!image) throw unavailable(`the image of release ${release.metadata.uid} is missing from the cache; publish the app again`);
  if (eff.command.length === 0) throw invalid(`app "${eff.name}" has no command`);
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

