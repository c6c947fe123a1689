// The Aegis dashboard. Stack: preact + htm (a 4 KB React-compatible view layer whose templates need no JSX
// compile step), xterm.js for the console, bundled by esbuild into dist/ui/assets at build time: small,
// maintained, no framework runtime or CDN at run time, and nothing else to install.
// Every list comes from the store's live feed (/ui/watch); pages read the daemon's own API (/v1/...).
import { h, render } from 'preact';
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, watchStore } from './api.js';
import { Sparkline } from './charts.js';
import { ExecConsole } from './console.js';
import { InstanceLogs } from './logs.js';
import './dashboard.css';

// ---- the store as the feed tells it ----
const store = { byKind: {}, status: 'connecting', version: 0 };
const listeners = new Set();
const bump = () => {
  store.version++;
  for (const l of listeners) l();
};
watchStore({
  onSnapshot: (snapshot) => {
    store.byKind = {};
    for (const [kind, items] of Object.entries(snapshot)) store.byKind[kind] = new Map(items.map((r) => [r.metadata.uid, r]));
    bump();
  },
  onChange: (e) => {
    const map = (store.byKind[e.kind] ??= new Map());
    if (e.resource) map.set(e.uid, e.resource);
    else map.delete(e.uid);
    bump();
  },
  onStatus: (s) => {
    store.status = s;
    bump();
  },
});

function useStore() {
  const [, set] = useState(0);
  useEffect(() => {
    const l = () => set(store.version);
    listeners.add(l);
    return () => listeners.delete(l);
  }, []);
  return store;
}

const list = (kind) => [...(store.byKind[kind]?.values() ?? [])].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
const find = (kind, name) => list(kind).find((r) => r.metadata.name === name || r.metadata.uid === name);

// ---- routing: #/, #/instance/NAME, #/app/NAME, #/task/NAME ----
function useRoute() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const [, kind, name] = hash.replace(/^#/, '').split('/');
  return { kind: kind || 'overview', name: name ? decodeURIComponent(name) : undefined };
}

const link = (kind, name) => `#/${kind}/${encodeURIComponent(name)}`;

function ago(iso) {
  if (!iso) return '–';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : s < 86400 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86400)}d`;
}

const ready = (r) => r.status?.conditions?.find((c) => c.type === 'Ready');

function StateBadge({ value }) {
  return html`<span class="badge state-${value ?? 'unknown'}" data-state=${value ?? ''}>${value ?? '–'}</span>`;
}

// ---- overview ----
function Overview() {
  useStore();
  const apps = list('App');
  const instances = list('Instance');
  const tasks = list('Task');
  const secrets = list('Secret');
  return html`
    <${WatchedDirectory} />
    <section>
      <h2>Instances</h2>
      <table data-table="instances">
        <thead><tr><th>Name</th><th>App</th><th>State</th><th>Connections</th><th>Last active</th><th>Ready</th></tr></thead>
        <tbody>
          ${instances.map(
            (i) => html`<tr data-instance=${i.metadata.name}>
              <td><a href=${link('instance', i.metadata.name)}>${i.metadata.name}</a></td>
              <td>${i.spec.app ? html`<a href=${link('app', i.spec.app)}>${i.spec.app}</a>` : '(ad hoc)'}</td>
              <td><${StateBadge} value=${i.status?.state} /></td>
              <td>${i.status?.connections ?? 0}</td>
              <td>${ago(i.status?.lastActiveAt)}</td>
              <td title=${ready(i)?.message ?? ''}>${ready(i) ? `${ready(i).status} ${ready(i).reason}` : '–'}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${instances.length === 0 && html`<p class="muted">No instances. Serve an app (aegis app serve APP, or serve: true in its manifest).</p>`}
    </section>
    <section>
      <h2>Apps</h2>
      <table data-table="apps">
        <thead><tr><th>Name</th><th>Image</th><th>Ports</th><th>Latest release</th><th>Ready</th><th>Source</th></tr></thead>
        <tbody>
          ${apps.map(
            (a) => html`<tr data-app=${a.metadata.name}>
              <td><a href=${link('app', a.metadata.name)}>${a.metadata.name}</a></td>
              <td>${a.spec.image ?? (a.spec.kit ? `kit ${a.spec.kit}` : '–')}</td>
              <td>${(a.spec.expose ?? []).join(', ') || '–'}</td>
              <td>${a.status?.latestRelease ?? '–'}</td>
              <td title=${ready(a)?.message ?? ''}>${ready(a) ? `${ready(a).status} ${ready(a).reason}` : '–'}</td>
              <td class="muted">${a.metadata.source ?? '–'}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </section>
    <section>
      <h2>Tasks</h2>
      <table data-table="tasks">
        <thead><tr><th>Name</th><th>Command</th><th>Phase</th><th>Exit</th><th>Age</th></tr></thead>
        <tbody>
          ${tasks.map(
            (t) => html`<tr data-task=${t.metadata.name}>
              <td><a href=${link('task', t.metadata.name)}>${t.metadata.name}</a></td>
              <td><code>${(t.spec.command ?? []).join(' ')}</code></td>
              <td><${StateBadge} value=${t.status?.phase} /></td>
              <td>${t.status?.exitCode ?? '–'}</td>
              <td>${ago(t.metadata.createdAt)}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </section>
    <section>
      <h2>Secrets</h2>
      <p class="muted">Names only: values never leave the daemon.</p>
      <table data-table="secrets">
        <thead><tr><th>Secret</th><th>Scope</th><th>Keys</th></tr></thead>
        <tbody>
          ${secrets.map(
            (s) => html`<tr><td>${s.metadata.name}</td><td>${s.spec.app ? `app ${s.spec.app}` : 'workspace'}</td><td>${Object.keys(s.spec.data ?? {}).join(', ')}</td></tr>`,
          )}
        </tbody>
      </table>
    </section>`;
}

function WatchedDirectory() {
  const [status, setStatus] = useState();
  useEffect(() => {
    let stop = false;
    const poll = () => api('/v1/status').then((s) => !stop && setStatus(s), () => undefined);
    poll();
    const t = setInterval(poll, 3000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, []);
  if (!status) return null;
  const w = status.watch;
  return html`<section class="summary">
    <div><span class="muted">backend</span> ${status.backend ?? 'none'}${status.capabilities?.isolation === 'namespace' ? ' (namespaces, not a VM)' : ''}</div>
    <div><span class="muted">router</span> ${status.router ?? 'not listening'}</div>
    <div data-watch>
      <span class="muted">watched directory</span>
      ${w
        ? html` ${w.dir} ${w.revision ? html`@ <code>${w.revision.slice(0, 12)}</code>` : ''} · <span class=${`result-${w.result}`}>${w.result}</span>
            ${w.lastAppliedAt ? ` · applied ${ago(w.lastAppliedAt)} ago` : ''}
            ${w.counts ? ` · drift repaired: ${w.counts.configured ?? 0} configured, ${w.counts.created ?? 0} created, ${w.counts.pruned ?? 0} pruned` : ''}
            <div class=${w.result === 'error' ? 'error' : 'muted'}>${w.message}</div>
            ${(w.issues ?? []).map((i) => html`<div class="error">${i.location ? `${i.location}: ` : ''}${i.path ? `${i.path}: ` : ''}${i.message}</div>`)}`
        : ' none (aegis up --watch DIR)'}
    </div>
  </section>`;
}

// ---- one resource, as `aegis describe` shows it ----
function Describe({ kind, resource }) {
  const [events, setEvents] = useState([]);
  const version = resource.metadata.resourceVersion;
  useEffect(() => {
    api(`/v1/resources/${kind}/${encodeURIComponent(resource.metadata.uid)}/events`).then((r) => setEvents(r.items), () => undefined);
  }, [resource.metadata.uid, version]);
  const { conditions = [], ...rest } = resource.status ?? {};
  const m = resource.metadata;
  return html`<section class="describe">
    <dl>
      <dt>ID</dt><dd>${m.uid}</dd>
      <dt>Source</dt><dd>${m.source ?? '–'}</dd>
      <dt>Created</dt><dd>${m.createdAt} (${ago(m.createdAt)} ago)</dd>
      <dt>Labels</dt><dd>${Object.entries(m.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', ') || '–'}</dd>
      ${m.deletionTimestamp && html`<dt>Deleting</dt><dd>since ${m.deletionTimestamp}</dd>`}
    </dl>
    <details><summary>Spec and status</summary><pre>${JSON.stringify({ spec: resource.spec, status: rest }, null, 2)}</pre></details>
    <h3>Conditions</h3>
    <table data-table="conditions">
      <thead><tr><th>Type</th><th>Status</th><th>Reason</th><th>Message</th><th>Since</th></tr></thead>
      <tbody>${conditions.map((c) => html`<tr><td>${c.type}</td><td>${c.status}</td><td>${c.reason}</td><td>${c.message}</td><td>${ago(c.lastTransitionTime)} ago</td></tr>`)}</tbody>
    </table>
    ${conditions.length === 0 && html`<p class="muted">(none: nothing reconciles this kind, or not yet)</p>`}
    <h3>Events</h3>
    <table data-table="events">
      <tbody>${events.slice(-20).map((e) => html`<tr><td>${ago(e.time)} ago</td><td>${e.type}</td><td>${e.reason}</td><td>${e.message}</td></tr>`)}</tbody>
    </table>
    ${events.length === 0 && html`<p class="muted">(none since the daemon started)</p>`}
  </section>`;
}

// ---- the instance page ----
const ACTIONS = [
  { name: 'pause', when: ['running'] },
  { name: 'resume', when: ['paused'] },
  { name: 'restart', when: ['running', 'paused', 'stopped', 'failed'] },
  { name: 'stop', when: ['running', 'paused', 'starting'] },
];

function Actions({ instance }) {
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const state = instance.status?.state;
  const name = instance.metadata.name;
  const act = async (label, call) => {
    if (!window.confirm(`${label} instance ${name}?`)) return;
    setBusy(true);
    setError('');
    try {
      await call();
    } catch (e) {
      setError(e.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="actions">
    ${ACTIONS.map(
      (a) => html`<button data-action=${a.name} disabled=${busy || !a.when.includes(state)}
        onClick=${() => act(a.name[0].toUpperCase() + a.name.slice(1), () => api(`/v1/instances/${encodeURIComponent(instance.metadata.uid)}/${a.name}`, { method: 'POST' }))}>${a.name}</button>`,
    )}
    <button data-action="delete" class="danger" disabled=${busy}
      onClick=${() => act('Delete', async () => {
        await api(`/v1/instances/${encodeURIComponent(instance.metadata.uid)}`, { method: 'DELETE' });
        location.hash = '#/';
      })}>delete</button>
    ${instance.spec.app && html`<span class="muted"> (an app's instance: deleting it while the app has serve: true starts a new one)</span>`}
    ${error && html`<div class="error" data-error>${error}</div>`}
  </div>`;
}

function Usage({ instance }) {
  const [points, setPoints] = useState([]);
  const uid = instance.metadata.uid;
  useEffect(() => {
    let stop = false;
    let prev;
    const poll = async () => {
      const u = await api(`/v1/instances/${encodeURIComponent(uid)}/usage`).catch(() => undefined);
      if (stop || !u) return;
      const at = Date.parse(u.at);
      const cpu = prev && u.cpuMicros !== undefined && prev.cpuMicros !== undefined && at > prev.at ? Math.max(0, (u.cpuMicros - prev.cpuMicros) / ((at - prev.at) * 10)) : 0;
      prev = { at, cpuMicros: u.cpuMicros };
      const memory = u.memoryBytes === undefined ? undefined : u.memoryBytes / 1048576;
      setPoints((p) => [...p.slice(-59), { cpu, memory, limit: (u.memoryLimitBytes ?? 0) / 1048576, connections: u.connections }]);
    };
    poll();
    const t = setInterval(poll, 2000);
    return () => {
      stop = true;
      clearInterval(t);
    };
  }, [uid]);
  const limit = points.at(-1)?.limit;
  return html`<section class="charts">
    <${Sparkline} label="CPU" values=${points.map((p) => p.cpu)} format=${(v) => `${v.toFixed(1)}%`} max=${100} />
    ${points.at(-1)?.memory === undefined && points.length > 0
      ? html`<figure class="chart" data-chart="Memory"><figcaption>Memory <span class="muted">not reported by this backend${limit ? ` (limit ${limit} MiB)` : ''}</span></figcaption></figure>`
      : html`<${Sparkline} label="Memory" values=${points.map((p) => p.memory ?? 0)} format=${(v) => `${v.toFixed(1)} MiB${limit ? ` of ${limit}` : ''}`} />`}
    <${Sparkline} label="Connections" values=${points.map((p) => p.connections)} format=${(v) => String(v)} />
  </section>`;
}

function InstancePage({ name }) {
  useStore();
  const instance = find('Instance', name);
  if (!instance) return html`<p class="muted">No instance ${name} (yet, or any more). <a href="#/">Back</a></p>`;
  const endpoints = instance.status?.endpoints ?? [];
  return html`<article data-page="instance">
    <h2>Instance ${instance.metadata.name} <${StateBadge} value=${instance.status?.state} /></h2>
    <p>${instance.spec.app ? html`App <a href=${link('app', instance.spec.app)}>${instance.spec.app}</a>` : 'Ad-hoc serve'}
      ${endpoints.map((e) => html` · port ${e.port}${e.hostPort ? ` → 127.0.0.1:${e.hostPort}` : ''}`)}</p>
    <${Actions} instance=${instance} />
    <${Usage} instance=${instance} />
    <${InstanceLogs} instance=${instance.metadata.uid} />
    <${ExecConsole} instance=${instance.metadata.uid} />
    <${Describe} kind="instances" resource=${instance} />
  </article>`;
}

function ResourcePage({ kind, plural, name }) {
  useStore();
  const r = find(kind, name);
  if (!r) return html`<p class="muted">No ${kind.toLowerCase()} ${name}. <a href="#/">Back</a></p>`;
  const instance = kind === 'App' ? list('Instance').find((i) => i.spec.app === r.metadata.name) : undefined;
  const releases = kind === 'App' ? list('Release').filter((x) => x.spec.app === r.metadata.name) : [];
  return html`<article data-page=${kind.toLowerCase()}>
    <h2>${kind} ${r.metadata.name}</h2>
    ${instance && html`<p>Instance <a href=${link('instance', instance.metadata.name)}>${instance.metadata.name}</a> <${StateBadge} value=${instance.status?.state} /></p>`}
    ${releases.length > 0 &&
    html`<h3>Releases</h3><table><tbody>${releases.map((x) => html`<tr><td>${x.metadata.name}</td><td>${x.spec.label ?? ''}</td><td>${x.spec.image ?? ''}</td><td>${ready(x)?.reason ?? ''}</td></tr>`)}</tbody></table>`}
    <${Describe} kind=${plural} resource=${r} />
  </article>`;
}

/** Re-renders every few seconds, so ages ("5s ago") move without a store change. */
function useTick(ms) {
  const [, set] = useState(0);
  useEffect(() => {
    const t = setInterval(() => set((n) => n + 1), ms);
    return () => clearInterval(t);
  }, [ms]);
}

function App() {
  const s = useStore();
  const route = useRoute();
  useTick(5000);
  let page;
  if (route.kind === 'instance') page = h(InstancePage, { name: route.name, key: route.name });
  else if (route.kind === 'app') page = h(ResourcePage, { kind: 'App', plural: 'apps', name: route.name, key: route.name });
  else if (route.kind === 'task') page = h(ResourcePage, { kind: 'Task', plural: 'tasks', name: route.name, key: route.name });
  else page = h(Overview, {});
  return html`<header class="top"><a href="#/"><h1>Aegis</h1></a><span class=${`feed feed-${s.status}`} data-feed=${s.status}>${s.status}</span></header>
    <main>${page}</main>`;
}

render(h(App, {}), document.getElementById('root'));
