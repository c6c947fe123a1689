// The SDK's built declarations as a package user gets them: a small project (consumer/) imports 'aegis'
// (node_modules/aegis is this package, resolved through package.json's `exports`) and is compiled with this
// repo's tsc, `skipLibCheck: false`, so every .d.ts it reaches is checked too. It fails when the
// declarations are not emitted, `exports`/`types` stop pointing at them, or the run/exec/files/logs types
// change shape (or decay to `any`: the program has @ts-expect-error lines).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, scaled } from '../../support/temp-home.js';

const CONSUMER = path.join(ROOT, 'test', 'unit', 'sdk', 'consumer');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; types: string; exports: Record<string, { types: string; default: string }> };

describe('the SDK declarations as a package user compiles them', { timeout: scaled(120_000) }, () => {
  let dir: string;

  /** A copy of consumer/ whose node_modules/aegis is `aegis` (this package, or a stand-in). */
  const project = (name: string, aegis: (at: string) => void): string => {
    const at = path.join(dir, name);
    fs.mkdirSync(path.join(at, 'node_modules', '@types'), { recursive: true });
    for (const f of ['consumer.ts', 'tsconfig.json']) fs.copyFileSync(path.join(CONSUMER, f), path.join(at, f));
    fs.symlinkSync(path.join(ROOT, 'node_modules', '@types', 'node'), path.join(at, 'node_modules', '@types', 'node'));
    aegis(path.join(at, 'node_modules', 'aegis'));
    return at;
  };
  const tsc = (at: string) => spawnSync(process.execPath, [TSC, '-p', at], { encoding: 'utf8' });

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-sdk-types-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("package.json's types and exports name the built index.d.ts", () => {
    expect(pkg.name).toBe('aegis');
    expect(pkg.exports['.']!.types).toBe(pkg.types);
    expect(fs.existsSync(path.join(ROOT, pkg.types))).toBe(true);
    expect(fs.existsSync(path.join(ROOT, pkg.exports['.']!.default))).toBe(true);
  });

  it('a program using Aegis.run, exec, files and logs compiles against them with skipLibCheck off', () => {
    const r = tsc(project('real', (at) => fs.symlinkSync(ROOT, at)));
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('and fails when the package no longer exports its entry', () => {
    // Checks the check: the same program against a package.json without "." in exports.
    const r = tsc(
      project('no-exports', (at) => {
        fs.mkdirSync(at);
        fs.symlinkSync(path.join(ROOT, 'dist'), path.join(at, 'dist'));
        fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(at, 'node_modules'));
        fs.writeFileSync(path.join(at, 'package.json'), JSON.stringify({ ...pkg, exports: { './package.json': './package.json' } }));
      }),
    );
    expect(r.status).not.toBe(0);
    expect(r.stdout).toMatch(/consumer\.ts\(\d+,\d+\): error TS\d+: .*'aegis'/);
  });
});
