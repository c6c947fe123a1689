// What a name means wherever someone names an instance: the router's Host (`shop.localhost`), `/app/shop/`
// and X-Aegis-App, and `aegis exec`, `aegis logs`, `aegis instance info`. An app's name always means that
// app's own instance, so an Instance named after an app (from a watched directory, say) can never take the
// app's traffic or its exec away; an instance's own name or id reaches it only when no app has that name.

export interface NamedInstance {
  uid: string;
  name: string;
  /** The app it serves (spec.app); undefined for an ad-hoc instance. */
  app: string | undefined;
  /** Creation order: the newest instance of an app is the one serving it. */
  sequence: number;
  deleting: boolean;
}

export interface NameMeaning<T> {
  /** Set when the name is an app's (by name or id): then `instance` is that app's, or undefined when it has none. */
  app?: string;
  instance?: T;
}

/** The instance serving `app`: the newest that is not being deleted (a replaced one may linger while it goes). */
export function newestOf<T extends NamedInstance>(instances: readonly T[], app: string): T | undefined {
  let best: T | undefined;
  for (const i of instances) if (i.app === app && !i.deleting && (!best || i.sequence > best.sequence)) best = i;
  return best;
}

/**
 * What `name` means among `instances`. `appNamed` looks an App up by name or id and returns its name; it is
 * asked only when no instance serves an app called `name`, which keeps the store off the router's hot path.
 */
export function resolveInstanceName<T extends NamedInstance>(name: string, instances: readonly T[], appNamed: (name: string) => string | undefined): NameMeaning<T> {
  const app = instances.some((i) => i.app === name && !i.deleting) ? name : appNamed(name);
  if (app !== undefined) return { app, instance: newestOf(instances, app) };
  const own = instances.find((i) => i.uid === name) ?? instances.find((i) => i.name === name);
  return own ? { instance: own } : {};
}

/** Why an Instance may not be called `name`, or undefined: an app's name is only for an instance of that app. */
export function instanceNameProblem(name: string, servesApp: string | undefined, appExists: (name: string) => boolean): string | undefined {
  if (servesApp === name || !appExists(name)) return undefined;
  return `instance name "${name}" is taken by app "${name}": an instance named after an app must serve it (app: ${name}); give this instance another name`;
}
