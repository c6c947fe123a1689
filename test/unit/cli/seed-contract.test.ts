// The CLI cannot drift from the user contract: every command and flag in the seed reference is registered.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildCli } from '../../../src/cli/cli.js';

const reference = fs.readFileSync(new URL('../../../docs/aegis-cli-reference.md', import.meta.url), 'utf8');

/** Usage lines such as `aegis app publish APP_NAME [--label LABEL]`, from the reference's code blocks. */
const usages = reference
  .split('\n')
  .filter((l) => /^aegis [a-z]/.test(l) && !l.startsWith('aegis <'))
  .map((l) => {
    const words = l.split(' ').slice(1);
    const path = words.slice(0, words.findIndex((w) => !/^[a-z][a-z-]*$/.test(w)) >>> 0).join(' ');
    const flags = [...l.matchAll(/(?<![\w-])(--[a-z][a-z-]*)/g)].map((m) => m[1]).filter((f) => f !== '--');
    return { line: l, path, flags };
  });

describe('seed reference contract', async () => {
  const definitions = (await buildCli()).definitions();
  const byPath = new Map(definitions.map((d) => [d.path.replace(/^aegis /, ''), d]));

  it('finds the usage lines it checks', () => {
    expect(usages.length).toBeGreaterThanOrEqual(24);
  });

  it.each(usages.map((u) => [u.line, u] as const))('%s is registered with its flags', (_line, u) => {
    const def = byPath.get(u.path);
    expect(def, `command "aegis ${u.path}" is not registered`).toBeDefined();
    const options = def!.options.map((o) => o.definition).join(' ');
    for (const flag of u.flags) expect(options, `aegis ${u.path} lacks ${flag}`).toContain(flag);
  });

  it('every command in the quick reference table exists', () => {
    const rows = [...reference.matchAll(/^\| `aegis ([a-z -]+?)(?: \[\.\.\.\] -- CMD)?` \|/gm)].map((m) => m[1].trim());
    expect(rows.length).toBeGreaterThanOrEqual(25);
    for (const row of rows) expect(byPath.has(row), `aegis ${row}`).toBe(true);
  });
});
