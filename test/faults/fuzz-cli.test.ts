// Generated command lines through the real aegis CLI, in process (buildCli + run, as bin/aegis does), with a
// daemon client that records each request and answers as if no daemon ran: argument parsing and everything a
// command checks before it talks to the daemon.
// Invariant: every command line ends, quickly, with either its output or a clean refusal: a usage error, or
// one `error: …` line; never a crash or a stack trace; and a command line refused as a usage error sent
// nothing to the daemon (so it cannot have written half of anything).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli } from '../../src/cli/cli.js';
import { Aegis } from '../../src/sdk/aegis.js';
import { AegisNotRunningError } from '../../src/sdk/errors.js';
import { COMMANDS } from '../../src/cli/commands/index.js';
import type { AegisContext } from '../../src/cli/context.js';
import { aegisPaths } from '../../src/config/paths.js';
import { expectOneLine, FUZZ_TIMEOUT_MS, fuzzParams, hostileString, MAX_MESSAGE_CHARS } from './support/fuzz.js';

/** An SDK client whose every request is recorded and answered as if no daemon ran (all calls share its transport). */
function recordingAegis(socket: string): { aegis: Aegis; requests: string[] } {
  const aegis = new Aegis({ socket, source: 'cli' });
  const requests: string[] = [];
  aegis.transport.raw = async (method: string, urlPath: string) => {
    requests.push(`${method} ${urlPath}`);
    throw new AegisNotRunningError(socket);
  };
  return { aegis, requests };
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

let home: string;
let manifestDir: string;

beforeAll(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-fuzz-cli-'));
  // Files a generated `-f` may name: a valid manifest, a broken one, a directory of both, one that is not there.
  manifestDir = path.join(home, 'manifests');
  fs.mkdirSync(manifestDir);
  fs.writeFileSync(path.join(manifestDir, 'app.yaml'), 'apiVersion: aegis.dev/v1\nkind: App\nmetadata: {name: web}\nspec: {image: busybox, command: [httpd]}\n');
  fs.writeFileSync(path.join(manifestDir, 'bad.json'), '{"apiVersion": "aegis.dev/v1", "kind": "App", "kind": "Task"}');
  fs.writeFileSync(path.join(home, 'kit.yaml'), 'name: kit\nversion: "1.0"\nimage: busybox\n');
});

afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

// `up` starts a daemon and `doctor` probes the host: neither is argument parsing.
const RUNNABLE = COMMANDS.filter((c) => c.path && !['up', 'doctor'].includes(c.path[0]!)).map((c) => c.path!);

const FLAGS = ['--app', '--dry-run', '--env', '--expose', '--filename', '--follow', '--force', '--image', '--interactive', '--json', '--kit', '--label', '--memory', '--name', '--network', '--output', '--prune', '--pull', '--purge', '--recursive', '--secret', '--selector', '--since', '--source', '--tail', '--timeout', '--user', '--vcpus', '--wait', '--watch', '--workdir', '-R', '-e', '-f', '-i', '-l', '-o', '-u', '-w', '--', '--help', '-h', '--version', '--nope'];

const token = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...FLAGS) },
  { weight: 2, arbitrary: fc.constantFrom('web', 'busybox:1.36', '80', '0', '-1', '65536', '99999999999999999999', '1e400', 'NaN', '5m', '10', 'A=b', '=b', 'A=', 'team=a', 'team!=a', 'a,b', 'json', 'yaml', 'wide', 'none', 'all', '10.0.0.0/8', 'host:99999', '0:0', 'root', '*', '-', '') },
  { weight: 1, arbitrary: fc.constantFrom('app.yaml', 'bad.json', '.', 'missing.yaml', 'kit.yaml').map((f) => path.join(home, f === 'app.yaml' || f === 'bad.json' || f === '.' ? `manifests/${f}` : f)) },
  { weight: 2, arbitrary: hostileString.filter((s) => s.length < 5_000 && !s.includes('\0')) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...FLAGS.filter((f) => f.startsWith('--') && f !== '--')), hostileString).map(([f, v]) => `${f}=${v.slice(0, 200)}`) },
);

/** What Node makes of argv bytes: UTF-8, with U+FFFD for what is not (so never a lone surrogate). */
const asArgv = (s: string): string => s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

const argv = fc
  .tuple(fc.constantFrom(...RUNNABLE, ['app'], ['secret'], ['nope'], []), fc.array(token, { maxLength: 8 }))
  .map(([words, rest]) => [...words, ...rest.map(asArgv)]);

/** Runs one command line as bin/aegis does, against the recording client; what it printed, and what it asked. */
async function runCli(args: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  const stdin = new PassThrough();
  stdin.end();
  const { aegis, requests } = recordingAegis(path.join(home, 'no-daemon.sock'));
  const context: AegisContext = { stdin, stdout, stderr, env: { AEGIS_HOME: home }, colorDepth: 1, paths: aegisPaths({ AEGIS_HOME: home }), aegis, client: aegis.transport };
  const saved = process.exitCode;
  process.exitCode = undefined;
  try {
    const started = Date.now();
    const code = await Promise.race([
      (await buildCli(args.length === 0 ? ['help'] : args)).run(args.length === 0 ? ['help'] : args, context),
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5_000).unref()),
    ]);
    const exit = code === 'timeout' ? code : code !== 0 ? code : Number(process.exitCode ?? 0);
    return { exit, stdout: stdout.text, stderr: stderr.text, requests, ms: Date.now() - started };
  } finally {
    process.exitCode = saved;
  }
}

const STACK_FRAME = /^\s+at .+(:\d+:\d+\)?|\(native\)|<anonymous>\)?)$/m;
const CRASH = /Internal Error|TypeError|RangeError|ReferenceError|SyntaxError: (?!.*JSON)|Cannot read propert|is not a function|undefined is not/;

describe('fuzzed command lines through the real CLI parser and commands', () => {
  it('every command line: output, a usage error or one error line; never a crash; a usage error sends nothing', async () => {
    const seen = { ran: 0, usage: 0, error: 0 };
    await fc.assert(
      fc.asyncProperty(argv, async (args) => {
        const r = await runCli(args);
        const all = r.stdout + r.stderr;
        const shown = `aegis ${JSON.stringify(args).slice(0, 300)} → exit ${r.exit}: ${all.slice(0, 400)}`;
        expect(r.exit, `${shown} (did not finish in 5 s)`).not.toBe('timeout');
        expect(all, shown).not.toMatch(STACK_FRAME);
        expect(all, shown).not.toMatch(CRASH);
        if (r.exit === 0) return void seen.ran++;
        if (/^(Usage Error|Unknown Syntax Error|Error): /m.test(r.stdout) && r.stderr === '') {
          // clipanion's refusal, before the command ran: first line says why.
          seen.usage++;
          // clipanion quotes the argument it refuses, whole and raw: the line may be as long as what the user
          // typed, and carry a carriage return the user typed (not fixed: it is clipanion's message).
          const first = r.stdout.split('\n')[0]!;
          const longest = Math.max(0, ...args.map((a) => a.length));
          if (!args.some((a) => a.includes('\r'))) expect(first).not.toMatch(/\r/);
          expect(first.length, shown).toBeLessThanOrEqual(MAX_MESSAGE_CHARS + longest);
          expect(r.requests, `${shown}: refused, yet the daemon was asked`).toEqual([]);
          return;
        }
        if (r.stderr === '') {
          // A report whose exit code carries the answer (`aegis status` with no daemon, `aegis diff` with changes).
          expect(r.stdout, shown).not.toBe('');
          return void seen.ran++;
        }
        seen.error++;
        const lines = r.stderr.trimEnd().split('\n');
        expect(lines[0], shown).toMatch(/^error: /);
        expectOneLine(lines[0]!);
        // Below the line, only the daemon's issues (indented); the recording client never gives any.
        expect(lines.slice(1).every((l) => l.startsWith('  ')), shown).toBe(true);
      }),
      fuzzParams('cli: command lines', 600),
    );
    expect(seen.usage).toBeGreaterThan(0);
    expect(seen.error).toBeGreaterThan(0);
  }, FUZZ_TIMEOUT_MS);
});
