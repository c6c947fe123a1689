// The part of libkrun's C API the worker calls, declared for koffi from the public libkrun.h (libkrun 1.17
// and later: every function here exists since v1.17.0; checked against the v1.19.0 header). Each call's
// return code is checked: a negative errno becomes one line naming the call and what the errno means.
// Only the worker process (krun-worker.ts) and the probe it runs load a libkrun: never aegisd.
import util from 'node:util';
import koffi, { type LibraryHandle } from 'koffi';

/** The oldest libkrun release with every function below (the multi-port console and explicit vsock came in 1.17.0). */
export const LIBKRUN_MIN_VERSION = '1.17';

/** libkrun's init takes these from krun_set_exec/krun_set_env; RLIMIT_NOFILE's number on Linux guests. */
export const RLIMIT_NOFILE = 7;
/** krun_set_log_level: errors only (the guest kernel's console lines come through at this level). */
export const KRUN_LOG_LEVEL_ERROR = 1;

/** Exported by the test double under test/ only: a library that has it is a fixture, never a real VM. */
export const TEST_DOUBLE_MARKER = 'aegis_libkrun_test_double';

export interface LibkrunApi {
  krun_set_log_level(level: number): number;
  krun_create_ctx(): number;
  krun_free_ctx(ctx: number): number;
  krun_set_vm_config(ctx: number, vcpus: number, ramMiB: number): number;
  krun_set_root(ctx: number, rootPath: string): number;
  krun_set_workdir(ctx: number, workdir: string): number;
  krun_set_exec(ctx: number, execPath: string, argv: (string | null)[], envp: (string | null)[]): number;
  krun_set_rlimits(ctx: number, rlimits: (string | null)[]): number;
  krun_disable_implicit_console(ctx: number): number;
  krun_add_virtio_console_default(ctx: number, inputFd: number, outputFd: number, errFd: number): number;
  krun_add_virtio_console_multiport(ctx: number): number;
  krun_add_console_port_inout(ctx: number, consoleId: number, name: string, inputFd: number, outputFd: number): number;
  krun_disable_implicit_vsock(ctx: number): number;
  krun_start_enter(ctx: number): number;
}

/** The prototypes, in the order a machine is configured. */
const PROTOTYPES: Record<keyof LibkrunApi, string> = {
  krun_set_log_level: 'int32_t krun_set_log_level(uint32_t level)',
  krun_create_ctx: 'int32_t krun_create_ctx()',
  krun_free_ctx: 'int32_t krun_free_ctx(uint32_t ctx_id)',
  krun_set_vm_config: 'int32_t krun_set_vm_config(uint32_t ctx_id, uint8_t num_vcpus, uint32_t ram_mib)',
  krun_set_root: 'int32_t krun_set_root(uint32_t ctx_id, const char *root_path)',
  krun_set_workdir: 'int32_t krun_set_workdir(uint32_t ctx_id, const char *workdir_path)',
  krun_set_exec: 'int32_t krun_set_exec(uint32_t ctx_id, const char *exec_path, const char **argv, const char **envp)',
  krun_set_rlimits: 'int32_t krun_set_rlimits(uint32_t ctx_id, const char **rlimits)',
  krun_disable_implicit_console: 'int32_t krun_disable_implicit_console(uint32_t ctx_id)',
  krun_add_virtio_console_default: 'int32_t krun_add_virtio_console_default(uint32_t ctx_id, int input_fd, int output_fd, int err_fd)',
  krun_add_virtio_console_multiport: 'int32_t krun_add_virtio_console_multiport(uint32_t ctx_id)',
  krun_add_console_port_inout: 'int32_t krun_add_console_port_inout(uint32_t ctx_id, uint32_t console_id, const char *name, int input_fd, int output_fd)',
  krun_disable_implicit_vsock: 'int32_t krun_disable_implicit_vsock(uint32_t ctx_id)',
  krun_start_enter: 'int32_t krun_start_enter(uint32_t ctx_id)',
};

export const REQUIRED_SYMBOLS = Object.keys(PROTOTYPES) as (keyof LibkrunApi)[];

export interface LoadedLibkrun {
  api: LibkrunApi;
  /** krun_start_enter on a worker thread: the callback runs only if it returns (it failed to start the VM). */
  startEnterAsync(ctx: number, done: (rc: number) => void): void;
  /** Whether this is the test double (see TEST_DOUBLE_MARKER). */
  fixture: boolean;
}

/** The symbols `file` lacks, without binding any of them (for the probe's one-line verdict). */
export function missingSymbols(file: string): string[] {
  const lib = koffi.load(file);
  return REQUIRED_SYMBOLS.filter((name) => {
    try {
      lib.func(PROTOTYPES[name]);
      return false;
    } catch {
      return true;
    }
  });
}

export function hasTestDoubleMarker(file: string): boolean {
  try {
    koffi.load(file).func(`int ${TEST_DOUBLE_MARKER}()`);
    return true;
  } catch {
    return false;
  }
}

/** Loads libkrun from `file`; throws one line naming the first symbol it lacks. */
export function loadLibkrun(file: string): LoadedLibkrun {
  const lib = koffi.load(file);
  const api: Partial<Record<keyof LibkrunApi, ReturnType<LibraryHandle['func']>>> = {};
  for (const name of REQUIRED_SYMBOLS) {
    try {
      api[name] = lib.func(PROTOTYPES[name]);
    } catch {
      throw new Error(`${file} lacks ${name} (Aegis needs libkrun ${LIBKRUN_MIN_VERSION} or newer)`);
    }
  }
  const startEnter = api.krun_start_enter!;
  return {
    api: api as unknown as LibkrunApi,
    startEnterAsync: (ctx, done) => startEnter.async(ctx, (err: unknown, rc: number) => done(err ? -1 : rc)),
    fixture: hasTestDoubleMarker(file),
  };
}

/** libkrun's failure as one line: `krun_set_root: No such file or directory (ENOENT)`. */
export function describeErrno(call: string, rc: number): string {
  const known = util.getSystemErrorMap().get(rc);
  if (!known) return `${call}: error ${-rc}`;
  const [name, message] = known;
  return `${call}: ${message.charAt(0).toUpperCase()}${message.slice(1)} (${name})`;
}

/** Returns rc when it is not a negative errno; otherwise throws describeErrno's line. */
export function check(call: string, rc: number): number {
  if (rc < 0) throw new LibkrunCallError(describeErrno(call, rc), call, rc);
  return rc;
}

export class LibkrunCallError extends Error {
  constructor(
    message: string,
    readonly call: string,
    readonly rc: number,
  ) {
    super(message);
    this.name = 'LibkrunCallError';
  }
}
