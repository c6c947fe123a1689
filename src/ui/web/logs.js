// An instance's log, followed live, filtered by source (boot, server, exec, system): the daemon's
// `aegis logs --follow` stream, read as it comes. Changing the filter starts a new read.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ndjson } from './api.js';

const SOURCES = ['boot', 'server', 'exec', 'system'];
/** Lines kept on the page; older ones scroll away. */
const KEEP = 1000;

export function InstanceLogs({ instance }) {
  const [sources, setSources] = useState(SOURCES);
  const [follow, setFollow] = useState(true);
  const [lines, setLines] = useState([]);
  const [error, setError] = useState('');
  const pane = useRef(null);

  useEffect(() => {
    const abort = new AbortController();
    setLines([]);
    setError('');
    if (sources.length === 0) return;
    const q = new URLSearchParams({ tail: '200', follow: String(follow), source: sources.join(',') });
    let pending = [];
    let timer;
    // Lines are added in small batches: a chatty server must not re-render the page per line.
    const flush = () => {
      timer = undefined;
      const batch = pending;
      pending = [];
      setLines((old) => [...old, ...batch].slice(-KEEP));
    };
    ndjson(`/v1/instances/${encodeURIComponent(instance)}/logs?${q}`, {
      signal: abort.signal,
      onItem: (e) => {
        pending.push(e);
        timer ??= setTimeout(flush, 100);
      },
    }).catch((e) => !abort.signal.aborted && setError(e.message));
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [instance, sources.join(','), follow]);

  useEffect(() => {
    if (follow && pane.current) pane.current.scrollTop = pane.current.scrollHeight;
  }, [lines, follow]);

  const toggle = (s) => setSources((cur) => (cur.includes(s) ? cur.filter((x) => x !== s) : SOURCES.filter((x) => x === s || cur.includes(x))));
  return html`<section class="logs">
    <header><h3>Logs</h3>
      ${SOURCES.map((s) => html`<label><input type="checkbox" data-source=${s} checked=${sources.includes(s)} onChange=${() => toggle(s)} /> ${s}</label>`)}
      <label><input type="checkbox" data-follow checked=${follow} onChange=${() => setFollow(!follow)} /> follow</label>
    </header>
    ${error && html`<div class="error">${error}</div>`}
    <pre class="log-lines" ref=${pane} data-logs>${lines.map(
      (l) => html`<div class=${`log-${l.stream} src-${l.source}`}><span class="muted">${l.ts.slice(11, 19)} ${l.source.padEnd(6)}</span> ${l.line}</div>`,
    )}</pre>
  </section>`;
}
