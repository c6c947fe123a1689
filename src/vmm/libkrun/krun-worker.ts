// The libkrun worker: one process per machine, because krun_start_enter takes the process over and never
// returns while the VM runs (libkrun exits the process with the guest init's exit code). aegisd never
// loads libkrun: it starts this under `unshare --mount`, writes the machine's WorkerSpec to its stdin
// (nothing on the command line), and watches its pid like any machine process.
//
//   node krun-worker.mjs            run a machine: the spec on stdin
//   node krun-worker.mjs --probe F  print what the library F offers as one JSON line, then exit
//
// The worker: assembles the guest's root (root-mounts.ts), configures a context (configure-context.ts),
// serves the control port on the machine's control.sock (control-relay.ts), then enters the VM on a
// koffi worker thread, so that its own event loop keeps relaying. Any failure before the VM runs is one
// line on stderr (the machine's worker.log) and exit code 1.
import fs from 'node:fs';
import { socketPair } from '../../util/libc.js';
import { configureContext } from './configure-context.js';
import { serveControlPort } from './control-relay.js';
import { describeErrno, loadLibkrun } from './libkrun-api.js';
import { probeLibrary } from './library-probe.js';
import { composeRoot } from './root-mounts.js';
import type { WorkerSpec } from './worker-spec.js';

function fail(message: string): never {
  process.stderr.write(`aegis-krun-worker: ${message}\n`);
  process.exit(1);
}

async function run(): Promise<void> {
  const spec = JSON.parse(fs.readFileSync(0, 'utf8')) as WorkerSpec;
  process.umask(0o022);
  const krun = loadLibkrun(spec.library);
  composeRoot(spec.root);
  const devNull = fs.openSync('/dev/null', 'r');
  const consoleFd = fs.openSync(spec.console, 'a', 0o600);
  const [libkrunEnd, ourEnd] = socketPair();
  const ctx = configureContext(krun.api, spec, { devNull, console: consoleFd, port: libkrunEnd });
  await serveControlPort(spec.controlSocket, ourEnd);
  krun.startEnterAsync(ctx, (rc) => fail(rc < 0 ? describeErrno('krun_start_enter', rc) : `krun_start_enter returned ${rc} without running the VM`));
}

const [mode, file] = process.argv.slice(2);
if (mode === '--probe') {
  process.stdout.write(JSON.stringify(probeLibrary(file)) + '\n');
} else {
  run().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
}
