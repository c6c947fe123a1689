// Compiles the sandbox's system call policy (seccomp-policy.ts) into a seccomp BPF program with
// libseccomp, through koffi: the library resolves names to this architecture's numbers and emits the
// architecture and x32 checks, so no BPF is written by hand. The program is loaded in the guest by the
// harness (src/harness/seccomp.ts) before anything else runs there.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import koffi from 'koffi';
import { ALLOWED_PERSONAS, ALLOWED_SYSCALLS, CLONE_NAMESPACE_FLAGS, DENIED_SYSCALLS, SYSCALL_NUMBERS } from './seccomp-policy.js';

const SCMP_ACT_KILL_PROCESS = 0x8000_0000;
const SCMP_ACT_ALLOW = 0x7fff_0000;
const SCMP_ACT_ERRNO = (errno: number) => 0x0005_0000 | errno;
const SCMP_FLTATR_ACT_BADARCH = 2;
const SCMP_CMP_EQ = 4;
const SCMP_CMP_MASKED_EQ = 7;
const { EPERM, ENOSYS } = os.constants.errno;

interface LibSeccomp {
  init: (defaultAction: number) => unknown;
  release: (ctx: unknown) => void;
  attrSet: (ctx: unknown, attr: number, value: number) => number;
  resolve: (name: string) => number;
  ruleAdd: (ctx: unknown, action: number, syscall: number, argCount: number, args: Buffer | null) => number;
  exportBpf: (ctx: unknown, fd: number) => number;
}

let lib: LibSeccomp | undefined;

/** libseccomp's bindings; throws, naming the package, where the library is not installed. */
function load(): LibSeccomp {
  if (lib) return lib;
  let l: ReturnType<typeof koffi.load>;
  try {
    l = koffi.load('libseccomp.so.2');
  } catch {
    throw new Error('libseccomp is not installed (apt-get install libseccomp2): sandbox machines need it for their system call filter');
  }
  lib = {
    init: l.func('void *seccomp_init(uint32_t def_action)'),
    release: l.func('void seccomp_release(void *ctx)'),
    attrSet: l.func('int seccomp_attr_set(void *ctx, int attr, uint32_t value)'),
    resolve: l.func('int seccomp_syscall_resolve_name(const char *name)'),
    ruleAdd: l.func('int seccomp_rule_add_array(void *ctx, uint32_t action, int syscall, unsigned int arg_cnt, const void *arg_array)'),
    exportBpf: l.func('int seccomp_export_bpf(void *ctx, int fd)'),
  };
  return lib;
}

/** One condition on a call's argument (struct scmp_arg_cmp). */
interface ArgCheck {
  arg: number;
  op: number;
  a: number;
  b?: number;
}

/** struct scmp_arg_cmp[]: u32 arg, u32 op, u64 datum_a, u64 datum_b. */
function argArray(checks: ArgCheck[]): Buffer | null {
  if (checks.length === 0) return null;
  const buf = Buffer.alloc(24 * checks.length);
  checks.forEach((c, i) => {
    buf.writeUInt32LE(c.arg, i * 24);
    buf.writeUInt32LE(c.op, i * 24 + 4);
    buf.writeBigUInt64LE(BigInt(c.a), i * 24 + 8);
    buf.writeBigUInt64LE(BigInt(c.b ?? 0), i * 24 + 16);
  });
  return buf;
}

/** The system call number of `name` on this architecture, or undefined where it has none (e.g. `open` on arm64). */
function syscallNumber(l: LibSeccomp, name: string): number | undefined {
  const nr = l.resolve(name);
  return nr >= 0 ? nr : SYSCALL_NUMBERS[name];
}

let compiled: Buffer | undefined;

/** The guest's seccomp filter as BPF instructions (struct sock_filter[], 8 bytes each), compiled once. */
export function sandboxSeccompFilter(): Buffer {
  return (compiled ??= compile());
}

function compile(): Buffer {
  const l = load();
  const ctx = l.init(SCMP_ACT_ERRNO(ENOSYS));
  if (!ctx) throw new Error('seccomp_init failed');
  try {
    const add = (action: number, name: string, checks: ArgCheck[] = []) => {
      const nr = syscallNumber(l, name);
      if (nr === undefined) return; // not a call of this architecture
      check(l.ruleAdd(ctx, action, nr, checks.length, argArray(checks)), `seccomp_rule_add(${name})`);
    };
    check(l.attrSet(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS), 'seccomp_attr_set');
    for (const name of ALLOWED_SYSCALLS) add(SCMP_ACT_ALLOW, name);
    for (const name of DENIED_SYSCALLS) add(SCMP_ACT_ERRNO(EPERM), name);
    // clone: processes and threads, never namespaces (flags are its first argument on x86_64 and arm64).
    add(SCMP_ACT_ALLOW, 'clone', [{ arg: 0, op: SCMP_CMP_MASKED_EQ, a: CLONE_NAMESPACE_FLAGS, b: 0 }]);
    for (let bit = 1; bit < 2 ** 31; bit *= 2) {
      if (CLONE_NAMESPACE_FLAGS & bit) add(SCMP_ACT_ERRNO(EPERM), 'clone', [{ arg: 0, op: SCMP_CMP_MASKED_EQ, a: bit, b: bit }]);
    }
    // clone3 passes its flags in memory, out of a filter's sight: it is left out (ENOSYS), and the C
    // library falls back to clone.
    // Any other persona (no address randomisation, 32-bit emulation, ...) falls to the default.
    for (const persona of ALLOWED_PERSONAS) add(SCMP_ACT_ALLOW, 'personality', [{ arg: 0, op: SCMP_CMP_EQ, a: persona }]);
    return exportProgram(l, ctx);
  } finally {
    l.release(ctx);
  }
}

/** libseccomp exports to an fd only (before 2.6): through a temp file. */
function exportProgram(l: LibSeccomp, ctx: unknown): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aegis-seccomp-'));
  const file = path.join(dir, 'filter.bpf');
  try {
    const fd = fs.openSync(file, 'w', 0o600);
    try {
      check(l.exportBpf(ctx, fd), 'seccomp_export_bpf');
    } finally {
      fs.closeSync(fd);
    }
    return fs.readFileSync(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** libseccomp returns -errno on failure. */
function check(rc: number, call: string): void {
  if (rc >= 0) return;
  const code = Object.entries(os.constants.errno).find(([, n]) => n === -rc)?.[0] ?? `errno ${-rc}`;
  throw new Error(`${call} failed: ${code}`);
}
