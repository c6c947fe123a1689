// The guest's fstab: escaping that getmntent/libmount undo, mount order, and paths overlayfs cannot take.
import { describe, expect, it } from 'vitest';
import { AegisError } from '../../../src/errors/codes.js';
import { fstabField, guestFstab, type GuestMountPaths } from '../../../src/vmm/sandbox/guest-mounts.js';

const base: GuestMountPaths = {
  root: '/h/m/root',
  devTemplate: '/h/dev-template',
  layerDir: '/h/m/layer',
  runtimeDir: '/h/runtime/abc',
  memoryMiB: 256,
  hostHas: () => true,
};

describe('guest fstab', () => {
  it.each([
    ['/plain/path', '/plain/path'],
    ['/with space', '/with\\040space'],
    ['/tab\there', '/tab\\011here'],
    ['/new\nline', '/new\\012line'],
    ['/back\\slash', '/back\\134slash'],
  ])('escapes %j as %j', (raw, escaped) => {
    expect(fstabField(raw)).toBe(escaped);
  });

  it('mounts parents before children, the runtime read-only, and the workspace only when there is one', () => {
    const lines = guestFstab(base).trim().split('\n');
    const targets = lines.map((l) => l.split(' ')[1]);
    expect(targets).toEqual(
      [
        'proc',
        ...['proc/bus', 'proc/fs', 'proc/irq', 'proc/sys', 'proc/sysrq-trigger'],
        ...['proc/interrupts', 'proc/kcore', 'proc/keys', 'proc/latency_stats', 'proc/timer_list', 'proc/timer_stats', 'proc/sched_debug'],
        ...['proc/acpi', 'proc/asound', 'proc/scsi'],
        'sys',
        ...['sys/firmware', 'sys/devices/virtual/powercap'],
        ...['dev', 'dev/pts', 'dev/shm', 'tmp', 'run', '.aegis', '.aegis-control'],
      ].map((t) => `/h/m/root/${t}`),
    );
    expect(lines.find((l) => l.includes('/.aegis '))).toMatch(/^\/h\/runtime\/abc \S+ none bind,ro,/);
    expect(lines.every((l) => l.split(' ').length === 6)).toBe(true);
    // The guest's tmpfs mounts are sized inside its memory; the control socket's tmpfs holds a socket only.
    expect(lines.find((l) => l.includes('/tmp '))).toMatch(/size=128m/);
    expect(lines.find((l) => l.includes('/.aegis-control '))).toMatch(/^tmpfs \S+ tmpfs \S*size=64k/);
    const withWs = guestFstab({ ...base, workspaceDir: '/my work' }).trim().split('\n');
    expect(withWs.at(-1)).toBe('/my\\040work /h/m/root/workspace none bind,nosuid,nodev 0 0');
  });

  it("masks host-wide /proc and /sys entries as runc does: files behind /dev/null, directories behind an empty tmpfs, knobs read-only", () => {
    const lines = guestFstab(base).trim().split('\n');
    const row = (target: string) => lines.find((l) => l.split(' ')[1] === `/h/m/root/${target}`);
    expect(row('proc/kcore')).toBe('/dev/null /h/m/root/proc/kcore none bind,ro 0 0');
    expect(row('proc/sysrq-trigger')).toMatch(/ none bind,ro,/);
    expect(row('proc/acpi')).toMatch(/^tmpfs \S+ tmpfs ro,/);
    expect(row('sys/firmware')).toMatch(/^tmpfs \S+ tmpfs ro,/);
  });

  it("gives the guest's tmpfs roots to guest root when it is a host uid range", () => {
    const lines = guestFstab({ ...base, guestRootId: 1879048192 }).trim().split('\n');
    for (const t of ['tmp', 'run', 'dev/shm', '.aegis-control']) expect(lines.find((l) => l.split(' ')[1] === `/h/m/root/${t}`)).toMatch(/,uid=1879048192,gid=1879048192 0 0$/);
    expect(guestFstab(base)).not.toContain('uid=');
  });

  it('protects optional /proc entries only where the kernel has them (a missing mount point fails mount -a)', () => {
    const targets = guestFstab({ ...base, hostHas: (p) => p !== '/proc/sysrq-trigger' }).split('\n').map((l) => l.split(' ')[1]);
    expect(targets).toContain('/h/m/root/proc/irq');
    expect(targets).not.toContain('/h/m/root/proc/sysrq-trigger');
    expect(targets).toContain('/h/m/root/proc/sys');
  });

  it('escapes blanks inside overlay options too (libmount unescapes the options field)', () => {
    const fstab = guestFstab({ ...base, devTemplate: '/a b/dev-template' });
    expect(fstab).toContain('lowerdir=/a\\040b/dev-template,upperdir=');
  });

  it.each(['/a,b', '/a:b'])('refuses overlay paths overlayfs cannot parse (%s)', (bad) => {
    expect(() => guestFstab({ ...base, layerDir: bad })).toThrow(AegisError);
  });
});
