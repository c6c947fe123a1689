import { describe, expect, it } from 'vitest';
import { formatLogLine, logLineStyle } from '../../../src/cli/output/log-line.js';

const entry = { ts: '2026-02-19T10:35:12.000Z', stream: 'stdout' as const, source: 'server', line: 'Serving HTTP on 0.0.0.0 port 80 ...' };

describe('aegis logs output', () => {
  it('prints only the line when piped, whatever the environment', () => {
    const style = logLineStyle({ json: false, isTTY: false, env: {} });
    expect(formatLogLine(entry, style)).toBe('Serving HTTP on 0.0.0.0 port 80 ...\n');
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
