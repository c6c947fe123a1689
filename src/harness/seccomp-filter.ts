// Loads the sandbox's system call filter into the harness before it serves anything: every process of
// the machine descends from the harness and inherits the filter, and nothing it runs can remove it. The
// host compiles the filter (src/vmm/sandbox/seccomp-filter.ts) and passes it in AEGIS_SECCOMP_FILTER
// (base64); Node has no seccomp call, so the runtime's copy of koffi makes it. VMs pass no filter.
import { koffi as loadKoffi } from './koffi.js';

const SYS_SECCOMP: Partial<Record<string, number>> = { x64: 317, arm64: 277 };
const PR_SET_NO_NEW_PRIVS = 38;
const SECCOMP_SET_MODE_FILTER = 1;
/** Every thread of the process at once: Node has started several before this runs. */
const SECCOMP_FILTER_FLAG_TSYNC = 1;

/** Applies the filter the environment carries, if any, and removes it from the environment. Throws on failure. */
export function applySeccompFilterFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const encoded = env.AEGIS_SECCOMP_FILTER;
  if (encoded === undefined) return false;
  delete env.AEGIS_SECCOMP_FILTER;
  const program = Buffer.from(encoded, 'base64');
  if (program.length === 0 || program.length % 8 !== 0) throw new Error('AEGIS_SECCOMP_FILTER is not a BPF program');
  const nr = SYS_SECCOMP[process.arch];
  if (nr === undefined) throw new Error(`seccomp(2) syscall number unknown on ${process.arch}`);
  const koffi = loadKoffi();
  const libc = koffi.load('libc.so.6');
  const prctl = libc.func('int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)');
  const syscall = libc.func('long syscall(long number, ...)');
  // The launch set no_new_privs already (setpriv --nnp); a filter needs it, so make sure.
  if (Number(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) !== 0) throw new Error(`prctl(PR_SET_NO_NEW_PRIVS) failed: errno ${koffi.errno()}`);
  const fprog = Buffer.alloc(16); // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
  fprog.writeUInt16LE(program.length / 8, 0);
  fprog.writeBigUInt64LE(koffi.address(program), 8);
  const rc = Number(syscall(nr, 'unsigned int', SECCOMP_SET_MODE_FILTER, 'unsigned int', SECCOMP_FILTER_FLAG_TSYNC, 'void *', fprog));
  if (rc !== 0) throw new Error(rc > 0 ? `seccomp: thread ${rc} could not take the filter` : `seccomp(SET_MODE_FILTER) failed: errno ${koffi.errno()}`);
  return true;
}
