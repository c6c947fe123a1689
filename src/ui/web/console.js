// The exec console: xterm.js over the dashboard's exec stream. With a terminal in the guest (the server says
// so in x-aegis-tty) every keystroke goes to it raw and the guest echoes; without one the command reads a
// pipe, so the console edits the line itself (echo, backspace) and sends it on Enter: a line-mode console,
// which says so on screen.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import { ndjson, sendInput, api } from './api.js';

function decode(entry) {
  if (entry.text !== undefined) return entry.text;
  return Uint8Array.from(atob(entry.b64 ?? ''), (c) => c.charCodeAt(0));
}

export function ExecConsole({ instance }) {
  const box = useRef(null);
  const [status, setStatus] = useState('connecting');
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    const term = new Terminal({ convertEol: true, fontSize: 13, cursorBlink: true, rows: 16 });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current);
    fit.fit();
    const abort = new AbortController();
    let session;
    let tty = false;
    let line = '';
    // Keystrokes are sent in order: each post waits for the one before.
    let queue = Promise.resolve();
    const send = (text) => (queue = queue.then(() => session && sendInput(session, text)).catch((e) => term.write(`\r\n[input refused: ${e.message}]\r\n`)));
    term.onData((data) => {
      if (!session) return;
      if (tty) return send(data);
      for (const ch of data) {
        if (ch === '\r') {
          term.write('\r\n');
          send(line + '\n');
          line = '';
        } else if (ch === '\x7f') {
          if (line) {
            line = line.slice(0, -1);
            term.write('\b \b');
          }
        } else if (ch === '\x03') {
          line = '';
          term.write('^C\r\n');
        } else if (ch === '\x04') {
          send(line);
          line = '';
        } else if (ch >= ' ') {
          line += ch;
          term.write(ch);
        }
      }
    });
    const onResize = () => {
      fit.fit();
      if (tty && session) api(`/ui/exec/${encodeURIComponent(session)}/resize`, { method: 'POST', body: { cols: term.cols, rows: term.rows } }).catch(() => undefined);
    };
    window.addEventListener('resize', onResize);
    ndjson('/ui/exec', {
      method: 'POST',
      body: { instance, cols: term.cols, rows: term.rows },
      signal: abort.signal,
      onOpen: (res) => {
        session = res.headers.get('x-aegis-session');
        tty = res.headers.get('x-aegis-tty') === '1';
        // A terminal's line discipline turns \n into \r\n itself; a pipe's output needs it done here.
        term.options.convertEol = !tty;
        setStatus(tty ? 'connected (terminal)' : 'connected (line mode: no terminal in the guest)');
        term.focus();
      },
      onItem: (entry) => {
        if (entry.exit) {
          term.write(`\r\n[exited ${entry.exit.code ?? entry.exit.signal}]\r\n`);
          setStatus('exited');
          session = undefined;
        } else term.write(decode(entry));
      },
    }).catch((e) => {
      if (abort.signal.aborted) return;
      term.write(`\r\n[${e.message}]\r\n`);
      setStatus('closed');
    });
    return () => {
      abort.abort();
      window.removeEventListener('resize', onResize);
      term.dispose();
    };
  }, [instance, generation]);

  return html`<section class="console">
    <header><h3>Console</h3> <span class="muted" data-console-status>${status}</span>
      <button onClick=${() => setGeneration((g) => g + 1)}>New session</button></header>
    <div class="terminal" ref=${box}></div>
  </section>`;
}
