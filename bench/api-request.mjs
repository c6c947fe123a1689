// API cost in process (no socket, no CLI): building the API (the daemon's own start is daemon-start.mjs)
// and answering a request through inject(), for GET /v1/status, GET /v1/apps (20 apps) and GET /v1/resources/secrets/NAME.
// Variants in the same run, interleaved: this tree's API as the daemon builds it, the same with every JSON
// reply checked against its route schema (what the tests run), and, with BENCH_BASELINE_DIST=DIR, another
// build's dist (e.g. the commit before) as the baseline the ratios are taken against.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { percentile, report, ROOT, round } from './lib.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 2000);
const BUILDS = Number(process.env.BENCH_BUILDS ?? 20);
const URLS = ['/v1/status', '/v1/apps', '/v1/resources/secrets/keys'];

async function load(dist) {
  const mod = (p) => import(pathToFileURL(path.join(dist, p)).href);
  const [{ buildApi }, { aegisPaths }, { Store }, { ImageStore }, { InstanceLogs }, { TaskLogs }, { EventRecorder }] = await Promise.all(
    ['api/app.js', 'config/paths.js', 'store/store.js', 'images/image-store.js', 'logs/instance-log.js', 'logs/task-logs.js', 'store/event-recorder.js'].map(mod),
  );
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-bench-api-'));
  const paths = aegisPaths({ AEGIS_HOME: home });
  const store = Store.open(paths.db, paths.keyFile);
  for (let i = 0; i < 20; i++) store.create('App', { name: `app${i}`, spec: { image: 'busybox:1.36', command: ['httpd', '-f'], expose: [80], env: { A: 'b' } }, source: 'cli' });
  store.create('Secret', { name: 'keys', spec: { data: { TOKEN: 'x', OTHER: 'y' } }, source: 'cli' });
  const services = {
    store,
    paths,
    version: 'bench',
    startedAt: new Date(),
    backend: { name: 'sandbox', reason: 'bench', capabilities: null, probes: { sandbox: { available: true, detail: '' } } },
    lifecycle: { instances: { touch: () => false, exec: async () => undefined }, taskLogs: new TaskLogs(paths.logs, 1024 * 1024), instanceLogs: new InstanceLogs(paths.logs) },
    images: new ImageStore(paths.images),
    events: new EventRecorder(store),
  };
  const build = async (opts) => {
    const api = buildApi(services, undefined, opts);
    await api.ready();
    return api;
  };
  return { build, close: () => fs.rmSync(home, { recursive: true, force: true }) };
}

/** Request latencies per variant and URL, interleaved so that noise on a shared machine hits all alike. */
async function timeRequests(apis) {
  const out = {};
  for (const [name, api] of apis) {
    out[name] = {};
    for (const url of URLS) {
      const res = await api.inject({ url });
      if (res.statusCode !== 200) throw new Error(`${name} ${url}: ${res.statusCode} ${res.body}`);
      out[name][url] = [];
    }
  }
  for (let i = 0; i < RUNS; i++) {
    for (const [name, api] of apis) {
      for (const url of URLS) {
        const t0 = performance.now();
        await api.inject({ url });
        out[name][url].push(performance.now() - t0);
      }
    }
  }
  return out;
}

const variants = [['daemon', path.join(ROOT, 'dist'), {}], ['checked', path.join(ROOT, 'dist'), { checkReplies: true }]];
if (process.env.BENCH_BASELINE_DIST) variants.unshift(['baseline', path.resolve(process.env.BENCH_BASELINE_DIST), {}]);

const loaded = await Promise.all(variants.map(async ([name, dist, opts]) => ({ name, opts, ...(await load(dist)) })));
const builds = Object.fromEntries(loaded.map((v) => [v.name, []]));
for (let i = 0; i < BUILDS; i++) {
  for (const v of loaded) {
    const t0 = performance.now();
    const api = await v.build(v.opts);
    builds[v.name].push(performance.now() - t0);
    await api.close();
  }
}
const apis = [];
for (const v of loaded) apis.push([v.name, await v.build(v.opts)]);
const requests = await timeRequests(apis);
for (const [, api] of apis) await api.close();
for (const v of loaded) v.close();

const p50 = (xs) => percentile(xs, 50);
const result = { name: 'api-request', runs: RUNS, builds: BUILDS };
const base = loaded[0].name;
for (const v of loaded) {
  result[`${v.name}_build_p50_ms`] = round(p50(builds[v.name]));
  for (const url of URLS) result[`${v.name}_${url.split('/').slice(2).join('_')}_p50_us`] = round(p50(requests[v.name][url]) * 1000);
  if (v.name !== base) {
    result[`${v.name}_build_ratio`] = round(p50(builds[v.name]) / p50(builds[base]));
    for (const url of URLS) result[`${v.name}_${url.split('/').slice(2).join('_')}_ratio`] = round(p50(requests[v.name][url]) / p50(requests[base][url]));
  }
}
report(result);
