// The examples of docs/sdk.md, run verbatim: each ```js block is written to a file and run with node against
// a real daemon (`import { Aegis } from 'aegis'` resolves to this package's built SDK), and what it prints
// must be the ```text block that follows it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, scaled, withTempHome, type TempHome } from '../support/temp-home.js';

interface Example {
  heading: string;
  code: string;
  expected: string | undefined;
}

/** The ```js blocks of a Markdown file, each with the ```text block right after it and the heading above it. */
export function examplesOf(markdown: string): Example[] {
  const examples: Example[] = [];
  const block = /^```(\S+)\n([\s\S]*?)^```$/gm;
  let heading = '';
  let last = 0;
  let pending: Example | undefined;
  for (let m = block.exec(markdown); m; m = block.exec(markdown)) {
    const between = markdown.slice(last, m.index);
    heading = [...between.matchAll(/^#+ (.+)$/gm)].pop()?.[1] ?? heading;
    const [lang, body] = [m[1]!, m[2]!];
    if (lang === 'text' && pending && between.trim() === '') pending.expected = body;
    else pending = undefined;
    if (lang === 'js') {
      pending = { heading, code: body, expected: undefined };
      examples.push(pending);
    }
    last = m.index + m[0].length;
  }
  return examples;
}

const examples = examplesOf(fs.readFileSync(path.join(ROOT, 'docs', 'sdk.md'), 'utf8'));

describe('docs/sdk.md examples', { timeout: scaled(60_000) }, () => {
  let t: TempHome;
  let dir: string;

  beforeAll(async () => {
    t = withTempHome();
    t.env.AEGIS_WARM_MACHINES = '0';
    expect((await t.aegis(['up'])).code).toBe(0);
    // A project that depends on aegis: node_modules/aegis is this package.
    dir = fs.mkdtempSync(path.join(t.home, 'project-'));
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'aegis'));
  }, scaled(60_000));

  afterAll(async () => {
    await t?.dispose();
  }, scaled(60_000));

  it('has examples, each followed by its output', () => {
    expect(examples.length).toBeGreaterThanOrEqual(6);
    for (const e of examples) expect(e.expected, `the example under "${e.heading}" has no output block`).toBeDefined();
  });

  for (const [i, e] of examples.entries()) {
    it(`${e.heading} (example ${i + 1})`, () => {
      const file = path.join(dir, `example-${i + 1}.mjs`);
      fs.writeFileSync(file, e.code);
      const r = spawnSync(process.execPath, [file], { cwd: dir, env: t.env, encoding: 'utf8', timeout: scaled(30_000) });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(e.expected);
      expect(r.status).toBe(0);
    });
  }
});
