// The libkrun calls a machine is configured with, made through koffi into the test double (which records
// each call's arguments): the exact sequence for a spec, and libkrun's error codes as one-line errors.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketPair } from '../../../src/util/libc.js';
import { configureContext } from '../../../src/vmm/libkrun/configure-context.js';
import { check, describeErrno, loadLibkrun, type LoadedLibkrun } from '../../../src/vmm/libkrun/libkrun-api.js';
import { libkrunMachineDirs } from '../../../src/vmm/libkrun/machine-state.js';
import { workerSpec } from '../../../src/vmm/libkrun/worker-spec.js';
import { fakeLibkrun, type FakeLibkrun } from '../../support/fake-libkrun.js';

interface Call {
  call: string;
  args: Record<string, unknown>;
  rc: number;
}

describe('libkrun calls (through the test double)', () => {
  let fake: FakeLibkrun;
  let krun: LoadedLibkrun;
  let tmp: string;
  const fds: number[] = [];
  const calls = (): Call[] => fs.readFileSync(path.join(fake.dir, 'calls', `${process.pid}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Call);
  const callsSince = (n: number) => calls().slice(n);

  beforeAll(() => {
    fake = fakeLibkrun({ own: true });
    krun = loadLibkrun(fake.library);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ae-krun-calls-'));
  });

  afterAll(() => {
    for (const fd of fds) fs.closeSync(fd);
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(fake.dir, { recursive: true, force: true });
  });

  it('configures a machine with exactly these calls: VM size, root, the harness with its env and no secrets, console, control port, no network', () => {
    expect(krun.fixture).toBe(true);
    const dirs = libkrunMachineDirs(path.join(tmp, 'machines'), 'm1');
    const spec = workerSpec(
      { id: 'm1', hostname: 'web-1', rootfsLayers: ['/layers/a', '/layers/b'], memoryMiB: 256, vcpus: 2, workspaceDir: '/srv/ws', stateDir: '/srv/state' },
      { library: fake.library, dirs, lower: '/trees/abc/tree', disk: '/srv/state/upper.ext4', runtimeDir: '/runtime/r1', runtime: { loader: 'ld-linux-x86-64.so.2', nodeVersion: 'v20.0.0' }, ramMiB: 320 },
    );
    const devNull = fs.openSync('/dev/null', 'r');
    const consoleFd = fs.openSync(path.join(tmp, 'console.log'), 'a');
    const [port, other] = socketPair();
    fds.push(devNull, consoleFd, port, other);
    const before = fs.existsSync(path.join(fake.dir, 'calls', `${process.pid}.jsonl`)) ? calls().length : 0;

    const ctx = configureContext(krun.api, spec, { devNull, console: consoleFd, port });

    expect(callsSince(before)).toEqual([
      { call: 'krun_set_log_level', args: { level: 1 }, rc: 0 },
      { call: 'krun_create_ctx', args: {}, rc: ctx },
      { call: 'krun_set_vm_config', args: { ctx, vcpus: 2, ram_mib: 320 }, rc: 0 },
      { call: 'krun_set_root', args: { ctx, root_path: dirs.root }, rc: 0 },
      { call: 'krun_set_workdir', args: { ctx, workdir_path: '/' }, rc: 0 },
      {
        call: 'krun_set_exec',
        args: {
          ctx,
          exec_path: '/.aegis/lib/ld-linux-x86-64.so.2',
          argv: ['--library-path', '/.aegis/lib', '/.aegis/bin/node', '/.aegis/harness/aegis-harness.mjs'],
          // The harness's whole environment: how to find its port, nothing of the host's, no secret.
          envp: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'HOSTNAME=web-1', 'AEGIS_CONTROL_PORT_NAME=aegis', 'AEGIS_OWN_CLOCK=1'],
        },
        rc: 0,
      },
      { call: 'krun_set_rlimits', args: { ctx, rlimits: ['7=65536:65536'] }, rc: 0 },
      { call: 'krun_disable_implicit_console', args: { ctx }, rc: 0 },
      { call: 'krun_add_virtio_console_default', args: { ctx, input_fd: devNull, output_fd: consoleFd, err_fd: consoleFd }, rc: 0 },
      { call: 'krun_add_virtio_console_multiport', args: { ctx }, rc: 1 },
      { call: 'krun_add_console_port_inout', args: { ctx, console_id: 1, name: 'aegis', input_fd: port, output_fd: port }, rc: 0 },
      { call: 'krun_disable_implicit_vsock', args: { ctx }, rc: 0 },
    ]);
    // What the worker mounts is in the spec it reads on stdin, not in any call.
    expect(spec.root).toEqual({ mountpoint: dirs.root, lower: '/trees/abc/tree', disk: '/srv/state/upper.ext4', diskMount: dirs.layer, runtime: '/runtime/r1', workspace: '/srv/ws' });
    expect(check('krun_free_ctx', krun.api.krun_free_ctx(ctx))).toBe(0);
  });

  it('turns a negative errno into one line naming the call and the meaning', () => {
    expect(() => check('krun_set_vm_config', krun.api.krun_set_vm_config(4242, 1, 256))).toThrow(/^krun_set_vm_config: No such file or directory \(ENOENT\)$/);
    const ctx = check('krun_create_ctx', krun.api.krun_create_ctx());
    expect(() => check('krun_set_vm_config', krun.api.krun_set_vm_config(ctx, 0, 256))).toThrow('krun_set_vm_config: Invalid argument (EINVAL)');
    expect(describeErrno('krun_start_enter', -1)).toBe('krun_start_enter: Operation not permitted (EPERM)');
    check('krun_free_ctx', krun.api.krun_free_ctx(ctx));
  });

  it('the double validates as libkrun does: unknown contexts, a null exec path, a bad disk format, a second console output, a port map without vsock', () => {
    const lib = koffi.load(fake.library);
    const setExec = lib.func('int32_t krun_set_exec(uint32_t ctx_id, const char *exec_path, const char **argv, const char **envp)');
    const addDisk2 = lib.func('int32_t krun_add_disk2(uint32_t ctx_id, const char *block_id, const char *disk_path, uint32_t disk_format, bool read_only)');
    const consoleOutput = lib.func('int32_t krun_set_console_output(uint32_t ctx_id, const char *c_filepath)');
    const portMap = lib.func('int32_t krun_set_port_map(uint32_t ctx_id, const char **port_map)');
    const ctx = check('krun_create_ctx', krun.api.krun_create_ctx());
    const EINVAL = -22;
    expect(setExec(ctx, null, [null], [null])).toBe(EINVAL);
    expect(addDisk2(ctx, 'root', '/tmp/disk.img', 0, true)).toBe(0);
    expect(addDisk2(ctx, 'root', '/tmp/disk.img', 7, true)).toBe(EINVAL);
    expect(consoleOutput(ctx, '/tmp/a')).toBe(0);
    expect(consoleOutput(ctx, '/tmp/b')).toBe(EINVAL);
    expect(portMap(ctx, ['8080:80', '8080:81', null])).toBe(EINVAL);
    check('krun_disable_implicit_vsock', krun.api.krun_disable_implicit_vsock(ctx));
    expect(portMap(ctx, [null])).toBe(-19); // ENODEV: no vsock device to map ports on
    check('krun_free_ctx', krun.api.krun_free_ctx(ctx));
    expect(krun.api.krun_free_ctx(ctx)).toBe(-2); // ENOENT: gone
    expect(krun.api.krun_start_enter(ctx)).toBe(-2);
  });
});
