// What the sandbox backend does on a host whose guests cannot get a user namespace: refuse, unless
// sandbox.allowHostRoot says to run them as host root, and say which in the probe doctor shows.
import { describe, expect, it } from 'vitest';
import { daemonConfigSchema } from '../../../../src/config/daemon-config.js';
import { identityOutcome } from '../../../../src/vmm/sandbox/probe.js';

const base = { available: true, detail: 'namespaces, overlayfs, cgroup v1' };

describe('guest identity on the sandbox backend', () => {
  it('runs guests as an unprivileged host uid range where user namespaces work', () => {
    expect(identityOutcome(base, undefined, false)).toMatchObject({ available: true, hostRoot: false, detail: expect.stringContaining('guest root an unprivileged host uid') });
  });

  it('refuses to start where they do not, naming why and the setting that would accept host root', () => {
    const r = identityOutcome(base, 'user namespaces are disabled (user.max_user_namespaces = 0)', false);
    expect(r).toEqual({
      available: false,
      hostRoot: false,
      detail: 'user namespaces are disabled (user.max_user_namespaces = 0): guest root would be host root (set sandbox.allowHostRoot: true in config.yaml to accept that)',
    });
  });

  it('runs guests as host root only with sandbox.allowHostRoot, and says so loudly', () => {
    const r = identityOutcome(base, 'user namespaces are disabled (user.max_user_namespaces = 0)', true);
    expect(r).toMatchObject({ available: true, hostRoot: true });
    expect(r.detail).toContain('GUEST ROOT IS HOST ROOT (sandbox.allowHostRoot: user namespaces are disabled');
  });

  it('reads sandbox.allowHostRoot from config.yaml, off by default', () => {
    expect(daemonConfigSchema.parse({}).sandbox).toEqual({ allowHostRoot: false });
    expect(daemonConfigSchema.parse({ sandbox: { allowHostRoot: true } }).sandbox.allowHostRoot).toBe(true);
    expect(daemonConfigSchema.safeParse({ sandbox: { allowHostRoot: 'yes' } }).success).toBe(false);
    expect(daemonConfigSchema.safeParse({ sandbox: { allowRoot: true } }).success).toBe(false);
  });
});
