// The libkrun test double (test/vmm/libkrun/fake-libkrun.c and its guest init), compiled with the system gcc
// on first use into a cache directory keyed by the sources, so every test process shares one build.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCES = fileURLToPath(new URL('../vmm/libkrun/', import.meta.url));
const LIBRARY = 'libkrun.so';

export interface FakeLibkrun {
  /** The shared library to point AEGIS_LIBKRUN at. */
  library: string;
  /** Its directory: calls/<pid>.jsonl are the call records, a `fault` file injects a failure. */
  dir: string;
}

function compile(dir: string): void {
  const gcc = (args: string[]) => execFileSync('gcc', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  gcc(['-shared', '-fPIC', '-O1', '-Wall', '-Wno-format-truncation', '-o', path.join(dir, LIBRARY), path.join(SOURCES, 'fake-libkrun.c')]);
  gcc(['-static', '-O1', '-Wall', '-o', path.join(dir, 'fake-krun-init'), path.join(SOURCES, 'fake-krun-init.c')]);
}

/**
 * The double, built once per source version. `own` gives a private copy (for a test that injects a fault or
 * counts call records without other processes' noise).
 */
export function fakeLibkrun(opts: { own?: boolean } = {}): FakeLibkrun {
  const hash = crypto.createHash('sha256');
  for (const f of ['fake-libkrun.c', 'fake-krun-init.c']) hash.update(fs.readFileSync(path.join(SOURCES, f)));
  const shared = path.join(os.tmpdir(), 'aegis-test-cache', `fake-libkrun-${hash.digest('hex').slice(0, 12)}`);
  if (!fs.existsSync(path.join(shared, LIBRARY))) {
    fs.mkdirSync(path.dirname(shared), { recursive: true });
    const tmp = fs.mkdtempSync(`${shared}.tmp-`);
    compile(tmp);
    try {
      fs.renameSync(tmp, shared);
    } catch {
      fs.rmSync(tmp, { recursive: true, force: true }); // another process built it first
    }
  }
  if (!opts.own) return { library: path.join(shared, LIBRARY), dir: shared };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-krun-'));
  for (const f of [LIBRARY, 'fake-krun-init']) fs.copyFileSync(path.join(shared, f), path.join(dir, f));
  return { library: path.join(dir, LIBRARY), dir };
}

/** A private build of the double whose `symbol` is exported under another name: a libkrun too old for Aegis. */
export function fakeLibkrunLacking(symbol: string): FakeLibkrun {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-krun-old-'));
  execFileSync('gcc', ['-shared', '-fPIC', '-O1', '-Wno-format-truncation', `-D${symbol}=aegis_test_renamed_${symbol}`, '-o', path.join(dir, LIBRARY), path.join(SOURCES, 'fake-libkrun.c')], { stdio: ['ignore', 'ignore', 'pipe'] });
  return { library: path.join(dir, LIBRARY), dir };
}
