// The page's calls to the daemon: the daemon's own API (/v1/...) plus the dashboard's feed and console, all
// with the token from the URL the page was opened with (a header for fetches; EventSource cannot set one).
export const token = new URLSearchParams(location.search).get('token') ?? '';

export class ApiError extends Error {}

async function failure(res) {
  let message = `${res.status} ${res.statusText}`;
  try {
    message = (await res.json()).error ?? message;
  } catch {}
  return new ApiError(message);
}

export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  if (!res.ok) throw await failure(res);
  return res.status === 204 ? undefined : res.json();
}

/** Streams an NDJSON answer, calling `onItem` per object; resolves when it ends, with the response's headers. */
export async function ndjson(path, { method = 'GET', body, signal, onItem, onOpen }) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  if (!res.ok) throw await failure(res);
  onOpen?.(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let rest = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += value;
    const lines = rest.split('\n');
    rest = lines.pop();
    for (const line of lines) if (line.trim()) onItem(JSON.parse(line));
  }
}

/** Sends raw bytes (keystrokes) to a console session. */
export async function sendInput(session, text) {
  const res = await fetch(`/ui/exec/${encodeURIComponent(session)}/input`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' },
    body: new TextEncoder().encode(text),
  });
  if (!res.ok) throw await failure(res);
}

/** The store's live feed: `onSnapshot(byKind)` first (and after each reconnect), then `onChange(event)`. */
export function watchStore({ onSnapshot, onChange, onStatus }) {
  const source = new EventSource(`/ui/watch?token=${encodeURIComponent(token)}`);
  source.addEventListener('snapshot', (e) => {
    onStatus('live');
    onSnapshot(JSON.parse(e.data));
  });
  source.addEventListener('change', (e) => onChange(JSON.parse(e.data)));
  source.onerror = () => onStatus('reconnecting');
  return () => source.close();
}
