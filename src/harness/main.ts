// PID 1 entry of the guest: serve the control channel on AEGIS_CONTROL_SOCKET until told to stop.
//
// Contract: `node aegis-harness.mjs`, with
//   AEGIS_CONTROL_SOCKET      unix socket path to listen on (a stale file is replaced), or
//   AEGIS_CONTROL_DEVICE      a character device to serve instead (a VM's virtio-serial port), or
//   AEGIS_CONTROL_PORT_NAME   the name of the virtio-console port to serve (found in /sys/class/virtio-ports)
//   AEGIS_OWN_CLOCK=1         the machine keeps its own clock (a VM): the clock call may set it
//   AEGIS_SHUTDOWN_GRACE_MS   SIGTERM→SIGKILL grace for children on SIGTERM/shutdown (default 5000)
//   AEGIS_LIFELINE_FD         a pipe whose EOF stops the machine as SIGTERM does (see lifeline.ts)
//   AEGIS_SECCOMP_FILTER      a seccomp BPF program (base64) loaded before anything else (a sandbox)
//   AEGIS_NAMESERVER          the machine has a network (a sandbox's slirp4netns): /etc/resolv.conf names this
// Prints `aegis-harness: listening on PATH (protocol N)` on stderr once ready. SIGTERM/SIGINT stop
// every child and exit 0. Children never see the harness's own environment.
import path from 'node:path';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import type { HarnessContext } from './context.js';
import { log } from './log.js';
import { ProcessTable } from './process.js';
import { serveDevice, type DeviceChannel } from './device-channel.js';
import { takeLifeline } from './lifeline.js';
import { findVirtioPort } from './virtio-port.js';
import { closeInheritedFds } from './inherited-fds.js';
import { applySeccompFilterFromEnv } from './seccomp-filter.js';
import { ControlServer } from './server.js';
import { writeResolvConf } from './guest-network.js';
import { stopEverything } from './shutdown.js';
import { FILES_WORKER_FLAG, runFilesWorker } from './files/worker.js';

declare const AEGIS_HARNESS_VERSION: string | undefined;

const DEFAULT_GRACE_MS = 5000;

function graceFromEnv(value: string | undefined): number {
  const n = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(n) && n >= 0 ? n : DEFAULT_GRACE_MS;
}

// Node opens its inspector on SIGUSR1, and anything in the guest allowed to signal PID 1 could then run
// code inside the harness. A listener of our own replaces Node's handler: the signal does nothing.
process.on('SIGUSR1', () => undefined); // silent: a workload could send it in a loop

async function main(): Promise<void> {
  // First: nothing the harness runs, or a workload that takes it over, may make a call the filter refuses.
  if (applySeccompFilterFromEnv()) log('system call filter loaded');
  // Taken before the strays are closed: the lifeline is inherited too, on purpose.
  const lifeline = process.env.AEGIS_LIFELINE_FD ? takeLifeline(Number(process.env.AEGIS_LIFELINE_FD)) : undefined;
  const strays = closeInheritedFds();
  if (strays > 0) log(`closed ${strays} inherited fd(s)`);
  const socketPath = process.env.AEGIS_CONTROL_SOCKET;
  const portName = process.env.AEGIS_CONTROL_PORT_NAME;
  const device = process.env.AEGIS_CONTROL_DEVICE ?? (portName ? await findVirtioPort(portName) : undefined);
  if (!socketPath && !device) {
    log('none of AEGIS_CONTROL_SOCKET, AEGIS_CONTROL_DEVICE and AEGIS_CONTROL_PORT_NAME is set');
    process.exit(2);
  }
  const shutdownGraceMs = graceFromEnv(process.env.AEGIS_SHUTDOWN_GRACE_MS);

  let server: ControlServer | undefined;
  let channel: DeviceChannel | undefined;
  let exiting = false;
  const ctx: HarnessContext = {
    procs: new ProcessTable(),
    startedAt: Date.now(),
    version: typeof AEGIS_HARNESS_VERSION === 'string' ? AEGIS_HARNESS_VERSION : 'dev',
    shutdownGraceMs,
    ownPaths: device ? [device] : [path.dirname(path.resolve('/', socketPath!))].filter((p) => p !== '/'),
    shuttingDown: false,
    exit(code) {
      if (exiting) return;
      exiting = true;
      const stop = () => {
        server?.close();
        process.exit(code);
      };
      // A device's writes are asynchronous: let the last reply (to shutdown, say) reach the host first.
      if (channel) void channel.drain(1000).then(stop);
      else stop();
    },
  };

  // As PID 1, dying takes the whole machine down: report stray errors and keep serving.
  process.on('uncaughtException', (err) => log(`uncaught: ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => log(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`));
  const shutDown = (why: string) => {
    log(`${why}: stopping children (grace ${shutdownGraceMs} ms)`);
    void stopEverything(ctx, shutdownGraceMs).then(() => ctx.exit(0));
  };
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => shutDown(sig));
  lifeline?.onGone(() => shutDown('the machine\'s host process is gone'));

  if (process.env.AEGIS_NAMESERVER) writeResolvConf(process.env.AEGIS_NAMESERVER);
  server = new ControlServer(ctx);
  const control = server;
  if (device) channel = await serveDevice(device, (conn) => control.accept(conn));
  else await server.listen(socketPath!);
  log(`listening on ${device ?? socketPath} (protocol ${PROTOCOL_VERSION})`);
}

// The same bundle is the file worker a files request starts (files/route.ts): then it is not PID 1.
if (process.argv[2] === FILES_WORKER_FLAG) {
  runFilesWorker(process.argv.slice(3)).catch((err: Error) => {
    process.stderr.write(`files worker: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
} else {
  main().catch((err: Error) => {
    log(`cannot start: ${err.message}`);
    process.exit(1);
  });
}
