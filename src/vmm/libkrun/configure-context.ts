// The libkrun calls that turn a WorkerSpec into a configured context, in order, each checked: the first
// that fails throws one line naming the call and its errno. The worker then enters the VM with it.
import { check, KRUN_LOG_LEVEL_ERROR, type LibkrunApi } from './libkrun-api.js';
import { CONTROL_PORT_NAME, type WorkerSpec } from './worker-spec.js';

export interface ContextFds {
  /** /dev/null: the guest's stdin. */
  devNull: number;
  /** The console file, opened for appending: the guest's stdout and stderr. */
  console: number;
  /** The worker's end of the control port (a socketpair end, used for both directions). */
  port: number;
}

/** Returns the context id, ready for krun_start_enter. */
export function configureContext(api: LibkrunApi, spec: WorkerSpec, fds: ContextFds): number {
  check('krun_set_log_level', api.krun_set_log_level(KRUN_LOG_LEVEL_ERROR));
  const ctx = check('krun_create_ctx', api.krun_create_ctx());
  check('krun_set_vm_config', api.krun_set_vm_config(ctx, spec.vcpus, spec.ramMiB));
  // A directory root, served over virtiofs; libkrun adds its init to it (virtually, nothing is written).
  check('krun_set_root', api.krun_set_root(ctx, spec.root.mountpoint));
  check('krun_set_workdir', api.krun_set_workdir(ctx, spec.workdir));
  check('krun_set_exec', api.krun_set_exec(ctx, spec.exec.path, [...spec.exec.args, null], [...spec.exec.env, null]));
  check('krun_set_rlimits', api.krun_set_rlimits(ctx, [...spec.rlimits, null]));
  // The implicit console would write the console file from offset 0 (krun_set_console_output truncates and
  // does not append), which the console cap cuts back under it: give libkrun our O_APPEND fd instead. Not
  // TTYs, so libkrun's init finds them as the krun-stdout/krun-stderr ports and redirects the harness there.
  check('krun_disable_implicit_console', api.krun_disable_implicit_console(ctx));
  check('krun_add_virtio_console_default', api.krun_add_virtio_console_default(ctx, fds.devNull, fds.console, fds.console));
  // The control channel: a plain virtio-console port the harness finds by name (Node in the guest has no
  // AF_VSOCK, and TSI's unix-socket hijacking would let the guest reach any socket on the host).
  const consoleId = check('krun_add_virtio_console_multiport', api.krun_add_virtio_console_multiport(ctx));
  check('krun_add_console_port_inout', api.krun_add_console_port_inout(ctx, consoleId, CONTROL_PORT_NAME, fds.port, fds.port));
  // No network: TSI would carry the guest's sockets out through this root process, past the egress filter
  // qemu's VMs have, and its listening sockets onto the host. No vsock device at all, so no port map either.
  check('krun_disable_implicit_vsock', api.krun_disable_implicit_vsock(ctx));
  return ctx;
}
