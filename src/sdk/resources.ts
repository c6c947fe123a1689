// The SDK's typed views of the daemon's resources (what GET /v1/... returns) and the calls on each kind.
import type { ApplyResult } from '../apply/apply-objects.js';
import type { AppSpec, AppSpecInput, AppStatus } from '../resources/app.js';
import type { InstanceSpec, InstanceSpecInput, InstanceStatus } from '../resources/instance.js';
import type { TaskSpec, TaskStatus } from '../resources/task.js';
import type { StoredResource } from '../store/stored-resource.js';
import type { InstanceLogEntry } from '../logs/instance-log-entry.js';
import { readLogs, type LogsOptions } from './logs.js';
import type { Transport } from './transport.js';

export type { ApplyResult, AppSpec, AppSpecInput, AppStatus, InstanceSpec, InstanceSpecInput, InstanceStatus, StoredResource as Resource, TaskSpec, TaskStatus };
export type App = StoredResource<AppSpec, AppStatus>;
export type Instance = StoredResource<InstanceSpec, InstanceStatus>;
export type Task = StoredResource<TaskSpec, TaskStatus>;
export type Release = StoredResource<{ app: string; image: string; label?: string }, Record<string, unknown>>;

export interface CallOptions {
  signal?: AbortSignal;
}

const seg = encodeURIComponent;

export class Apps {
  constructor(private readonly t: Transport) {}
  list(opts: CallOptions = {}): Promise<App[]> {
    return this.t.get<{ items: App[] }>('/v1/apps', opts).then((r) => r.items);
  }
  get(name: string, opts: CallOptions = {}): Promise<App> {
    return this.t.get<App>(`/v1/apps/${seg(name)}`, opts);
  }
  /** Creates an app: `name` and the App spec (image, command, expose, env…), as `aegis app create` does. */
  create(app: { name: string } & AppSpecInput, opts: CallOptions = {}): Promise<App> {
    return this.t.post<App>('/v1/apps', app, opts);
  }
  /** Marks the app deleted (its instance and releases go with it); `purge` removes its workspace too. */
  delete(name: string, opts: CallOptions & { purge?: boolean } = {}): Promise<{ name: string; id: string; result: string }> {
    return this.t.delete(`/v1/apps/${seg(name)}${opts.purge ? '?purge=true' : ''}`, opts);
  }
  /** Pins the app's image as a new release (pulled and checked by the Release controller afterwards). */
  publish(name: string, opts: CallOptions & { label?: string } = {}): Promise<Release> {
    return this.t.post<Release>(`/v1/apps/${seg(name)}/publish`, opts.label ? { label: opts.label } : {}, opts);
  }
  releases(name: string, opts: CallOptions = {}): Promise<Release[]> {
    return this.t.get<{ items: Release[] }>(`/v1/apps/${seg(name)}/releases`, opts).then((r) => r.items);
  }
  /** The log of the app's instance (see Aegis.logs); AEGIS_NOT_FOUND when the app has none. */
  logs(name: string, opts: LogsOptions = {}): AsyncGenerator<InstanceLogEntry> {
    return readLogs(this.t, `/v1/apps/${seg(name)}/logs`, opts);
  }
  /** Serves the app: its instance (an existing one, or a new one). */
  serve(name: string, opts: CallOptions = {}): Promise<Instance> {
    return this.t.post<Instance>(`/v1/apps/${seg(name)}/serve`, {}, opts);
  }
}

export class Instances {
  constructor(private readonly t: Transport) {}
  list(opts: CallOptions = {}): Promise<Instance[]> {
    return this.t.get<{ items: Instance[] }>('/v1/instances', opts).then((r) => r.items);
  }
  /** By instance name or id, or an app's name (that app's instance). */
  get(target: string, opts: CallOptions = {}): Promise<Instance> {
    return this.t.get<Instance>(`/v1/instances/${seg(target)}`, opts);
  }
  /** An ad-hoc instance (image, command, expose…) or an app's (`{ app }`). */
  create(spec: InstanceSpecInput, opts: CallOptions = {}): Promise<Instance> {
    return this.t.post<Instance>('/v1/instances', spec, opts);
  }
  /** Stops the instance's machine and deletes it. */
  delete(id: string, opts: CallOptions = {}): Promise<{ id: string; result: string }> {
    return this.t.delete(`/v1/instances/${seg(id)}`, opts);
  }
  /** Counts as activity: the idle timer starts again. */
  keepalive(target: string, opts: CallOptions = {}): Promise<{ id: string }> {
    return this.t.post(`/v1/instances/${seg(target)}/keepalive`, undefined, opts);
  }
}

export class Tasks {
  constructor(private readonly t: Transport) {}
  list(opts: CallOptions = {}): Promise<Task[]> {
    return this.t.get<{ items: Task[] }>('/v1/tasks', opts).then((r) => r.items);
  }
  get(id: string, opts: CallOptions = {}): Promise<Task> {
    return this.t.get<Task>(`/v1/tasks/${seg(id)}`, opts);
  }
  /** Lets a task held with `hold.start` run its command (its files are in place). */
  start(id: string, opts: CallOptions = {}): Promise<unknown> {
    return this.t.post(`/v1/tasks/${seg(id)}/start`, undefined, opts);
  }
  /** Lets a task held with `hold.exit` stop its machine (its results are copied out). */
  release(id: string, opts: CallOptions = {}): Promise<unknown> {
    return this.t.post(`/v1/tasks/${seg(id)}/release`, undefined, opts);
  }
  /** Cancels a running task (its machine stops) or removes a finished one. */
  delete(id: string, opts: CallOptions = {}): Promise<{ id: string; result: string }> {
    return this.t.delete(`/v1/tasks/${seg(id)}`, opts);
  }
}

/** Secrets by key, per app or for the workspace (`app` undefined). Values go in and never come back. */
export class Secrets {
  constructor(private readonly t: Transport) {}
  set(app: string | undefined, key: string, value: string, opts: CallOptions = {}): Promise<unknown> {
    return this.t.put(`${this.base(app)}/${seg(key)}`, { value }, opts);
  }
  list(app: string | undefined, opts: CallOptions = {}): Promise<string[]> {
    return this.t.get<{ keys: string[] }>(this.base(app), opts).then((r) => r.keys);
  }
  delete(app: string | undefined, key: string, opts: CallOptions = {}): Promise<unknown> {
    return this.t.delete(`${this.base(app)}/${seg(key)}`, opts);
  }
  private base(app: string | undefined): string {
    return app === undefined ? '/v1/secrets' : `/v1/apps/${seg(app)}/secrets`;
  }
}
