import { describe, expect, it } from 'vitest';
import { formatLogLine, logLineStyle } from '../../../src/cli/output/log-line.js';

const entry = { ts: '2026-02-19T10:35:12.000Z', stream: 'stdout' as const, source: 'server', line: 'Serving HTTP on 0.0.0.0 port 80 ...' };

describe('aegis logs output', () => {
  it('tags every line with its source when piped too, whatever the environment', () => {
    const style = logLineStyle({ json: false, isTTY: false, env: {} });
    expect(formatLogLine(entry, style)).toBe('[server] Serving HTTP on 0.0.0.0 port 80 ...\n');
  });

  it('shows control characters as escapes, keeping tabs', () => {
    const line = '\x1b[31mred\x1b[0m\tcol\rover\nnext\x7f\u009b\u202eevil';
    const want = '\\x1b[31mred\\x1b[0m\tcol\\x0dover\\x0anext\\x7f\\x9b\\u202eevil';
    expect(formatLogLine({ ...entry, line }, 'tagged')).toBe(`[server] ${want}\n`);
    expect(formatLogLine({ ...entry, stream: 'stderr', line }, 'color')).toBe(`\x1b[2m[server]\x1b[0m \x1b[31m${want}\x1b[0m\n`);
    expect(formatLogLine({ ...entry, line: 'ünïcödé ✓ 日本' }, 'tagged')).toBe('[server] ünïcödé ✓ 日本\n');
  });

  it('tags lines on a terminal, coloured unless NO_COLOR', () => {
    expect(formatLogLine(entry, logLineStyle({ json: false, isTTY: true, env: { NO_COLOR: '1' } }))).toBe('[server] Serving HTTP on 0.0.0.0 port 80 ...\n');
    const colored = formatLogLine({ ...entry, stream: 'stderr', source: 'exec', line: 'boom' }, logLineStyle({ json: false, isTTY: true, env: {} }));
    expect(colored).toBe('\x1b[36m[exec]\x1b[0m \x1b[31mboom\x1b[0m\n');
    expect(formatLogLine({ ...entry, stream: 'system', source: 'system', line: 'exited' }, 'color')).toContain('\x1b[33m[system]');
  });

  it('--json prints the raw entry', () => {
    expect(JSON.parse(formatLogLine(entry, logLineStyle({ json: true, isTTY: true, env: {} })))).toEqual(entry);
  });
});
