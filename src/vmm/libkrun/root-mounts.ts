// The guest's root, assembled by the worker in its own mount namespace (aegisd starts it under
// `unshare --mount`), as libkrun asks of Linux callers: an overlay of the machine's image tree (read-only)
// and its writable disk, with the guest runtime bound read-only at /.aegis and the app's workspace at
// /workspace. libkrun shares the result with the VM over virtiofs. Nothing here is visible on the host,
// and it all goes away with the worker.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkerSpec } from './worker-spec.js';
import { GUEST_RUNTIME } from './worker-spec.js';

/** overlayfs splits its options on these: a path holding one cannot be a layer. */
const OVERLAY_SEPARATORS = /[,:\\]/;

function mount(args: string[]): void {
  try {
    execFileSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '').trim();
    throw new Error(`mount ${args.join(' ')} failed: ${stderr || (err as Error).message}`);
  }
}

/**
 * Mount targets under the root resolve on the host side: an image's symlink (/.aegis -> /usr/lib/x) would put
 * the bind somewhere else. Such an entry is replaced by a real directory, in the machine's writable layer.
 */
function realDirectory(root: string, rel: string): string {
  const target = path.join(root, rel);
  const st = fs.lstatSync(target, { throwIfNoEntry: false });
  if (!st?.isDirectory()) {
    fs.rmSync(target, { recursive: true, force: true });
    fs.mkdirSync(target, { mode: 0o755 });
  }
  return target;
}

export function composeRoot(root: WorkerSpec['root']): void {
  for (const p of [root.lower, root.diskMount]) {
    if (OVERLAY_SEPARATORS.test(p)) throw new Error(`cannot build the guest's root: ${p} contains ',', ':' or '\\', which overlayfs cannot take`);
  }
  // nodev, nosuid: what the guest writes is its own business, never a device or setuid program for the host.
  mount(['-t', 'ext4', '-o', 'loop,nodev,nosuid', root.disk, root.diskMount]);
  const upper = path.join(root.diskMount, 'upper');
  const work = path.join(root.diskMount, 'work');
  // upper/ gives the guest's / its mode: 0755, so that a non-root image USER can use it.
  for (const d of [upper, work]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
  mount(['-t', 'overlay', '-o', `nodev,nosuid,lowerdir=${root.lower},upperdir=${upper},workdir=${work}`, 'overlay', root.mountpoint]);
  const runtime = realDirectory(root.mountpoint, GUEST_RUNTIME);
  mount(['--bind', root.runtime, runtime]);
  mount(['-o', 'remount,bind,ro', runtime]);
  if (root.workspace) mount(['--bind', root.workspace, realDirectory(root.mountpoint, 'workspace')]);
}
