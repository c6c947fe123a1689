// Memory snapshots of a paused VM, kept in the instance's state dir next to its disk so that a stopped
// instance resumes where it was instead of booting: QMP `migrate` streams the guest's RAM and device
// state into a socket the daemon hands to zstd, which writes the file; a new qemu started with
// `-incoming defer` reads it back from a pipe out of `zstd -d`.
//
// A snapshot is only valid with the exact machine it came from (kernel, initramfs, disks, memory, CPUs,
// qemu build) and its writable disks as they were when it was taken (the guest's page cache believes so),
// so it is consumed by the first restore and discarded by any boot that cannot use it.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { readRecord, writeRecord } from '../record-file.js';
import { which } from '../../util/which.js';
import { qmpExecute, qmpStatus } from './qmp-client.js';

const SNAPSHOT_FILE = 'memory.snap';
const SNAPSHOT_META = 'memory.json';
/** How often a running migration is asked how far it got. */
const MIGRATE_POLL_MS = 50;

interface SnapshotMeta {
  fingerprint: string;
  savedAt: string;
  compressed: boolean;
  bytes: number;
  /** Size and mtime of each writable disk when the snapshot was taken: any later write voids it. */
  disks?: Record<string, DiskStamp>;
}

interface DiskStamp {
  size: number;
  mtimeMs: number;
}

function stamp(file: string): DiskStamp | undefined {
  try {
    const st = fs.statSync(file);
    return { size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return undefined;
  }
}

/** Digest of everything the guest's saved state depends on; `parts` are launch parameters. */
export function snapshotFingerprint(parts: unknown): string {
  return crypto.createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

/** The snapshot file in `stateDir` saved under `fingerprint`; any other snapshot there is removed. */
export function usableSnapshot(stateDir: string, fingerprint: string): { file: string; compressed: boolean } | undefined {
  const meta = readRecord<SnapshotMeta>(path.join(stateDir, SNAPSHOT_META));
  const file = path.join(stateDir, SNAPSHOT_FILE);
  const disksUntouched = Object.entries(meta?.disks ?? {}).every(([disk, was]) => JSON.stringify(stamp(disk)) === JSON.stringify(was));
  if (meta?.fingerprint === fingerprint && disksUntouched && fs.existsSync(file)) return { file, compressed: meta.compressed };
  discardSnapshot(stateDir);
  return undefined;
}

export function discardSnapshot(stateDir: string): void {
  for (const f of [SNAPSHOT_META, SNAPSHOT_FILE, `${SNAPSHOT_FILE}.partial`]) fs.rmSync(path.join(stateDir, f), { force: true });
}

/** query-migrate states in which qemu is still sending a migration stream. */
const SENDING = new Set(['setup', 'active', 'pre-switchover', 'device', 'wait-unplug', 'cancelling', 'postcopy-active']);

/**
 * Clears up after a save (or restore) that a daemon began and died in, on a machine that outlived it. qemu's
 * migration into the dead daemon's writer is cancelled: left to finish, it would stop the VM for good after
 * the next daemon resumed it to serve. A half-written file always goes. A complete snapshot stays while the
 * guest has not run since (still loading it, loaded but never resumed, or saved but qemu never quit): an
 * unclaimed machine is stopped and the next boot restores it; an adopted one discards it when it resumes.
 */
export async function abandonDeadSave(qmpSocket: string, stateDir: string, timeoutMs: number): Promise<void> {
  fs.rmSync(path.join(stateDir, `${SNAPSHOT_FILE}.partial`), { force: true });
  const runstate = await qmpStatus(qmpSocket).catch(() => undefined);
  if (!runstate || runstate.status === 'inmigrate') return;
  const deadline = Date.now() + timeoutMs;
  let info = await qmpExecute<MigrationInfo>(qmpSocket, 'query-migrate').catch(() => undefined);
  if (info?.status && SENDING.has(info.status)) await qmpExecute(qmpSocket, 'migrate_cancel').catch(() => undefined);
  while (info?.status && SENDING.has(info.status) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, MIGRATE_POLL_MS));
    info = await qmpExecute<MigrationInfo>(qmpSocket, 'query-migrate').catch(() => undefined);
  }
  if (runstate.running) discardSnapshot(stateDir);
}

/** Where the daemon takes a snapshot from qemu: qemu cannot spawn a compressor (its seccomp filter denies
 * fork and exec), so it migrates into a unix socket the daemon listens on and hands to zstd. */
export interface SnapshotChannel {
  /** The socket's host path: in the machine's jail, the only place a chrooted qemu can reach. */
  listenPath: string;
  /** The same socket as qemu names it (from inside its chroot). */
  qemuPath: string;
  /** qemu's ids, to whom the socket is given; absent when qemu runs as the daemon's own user. */
  owner?: { uid: number; gid: number };
}

/** The fd a restoring qemu reads the snapshot's stream from (`-incoming defer`, then `migrate-incoming fd:3`). */
export const INCOMING_FD = 3;

/**
 * Saves the (paused) VM's memory and device state into `stateDir`. The VM stays stopped afterwards. The file
 * holds guest RAM, decrypted secrets included: it is created 0600 (never loosened afterwards) in a 0700 dir.
 */
export async function saveSnapshot(qmpSocket: string, channel: SnapshotChannel, stateDir: string, fingerprint: string, disks: string[], timeoutMs: number): Promise<void> {
  discardSnapshot(stateDir);
  fs.chmodSync(stateDir, 0o700);
  const partial = path.join(stateDir, `${SNAPSHOT_FILE}.partial`);
  // Guest RAM is mostly zero pages and text: zstd's fastest level shrinks it several times over for less
  // time than writing the difference would take.
  const compressed = which('zstd') !== undefined;
  const sink = compressed ? ['zstd', '-1', '-q', '-c'] : ['cat'];
  const out = fs.openSync(partial, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  const server = net.createServer({ pauseOnConnect: true });
  let writer: ChildProcess | undefined;
  try {
    // qemu's stream goes straight from the accepted socket into the compressor's stdin, not through node.
    const written = new Promise<void>((resolve, reject) => {
      server.once('connection', (conn) => {
        server.close();
        writer = spawn(sink[0], sink.slice(1), { stdio: [conn, out, 'pipe'] });
        conn.destroy();
        let stderr = '';
        writer.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
        writer.once('error', reject);
        writer.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`memory snapshot save: ${sink[0]} exited ${code}: ${stderr.trim()}`))));
      });
    });
    written.catch(() => undefined); // awaited below, unless the migration fails first
    fs.rmSync(channel.listenPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(channel.listenPath, resolve);
    });
    fs.chmodSync(channel.listenPath, 0o600);
    if (channel.owner) fs.chownSync(channel.listenPath, channel.owner.uid, channel.owner.gid);
    await qmpExecute(qmpSocket, 'stop');
    await qmpExecute(qmpSocket, 'migrate', { uri: `unix:${channel.qemuPath}` });
    const deadline = Date.now() + timeoutMs;
    await waitForMigration(qmpSocket, timeoutMs, 'save');
    // qemu closes the socket once done; the compressor then flushes and exits.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`memory snapshot save: ${sink[0]} did not finish within ${timeoutMs} ms`)), Math.max(0, deadline - Date.now()))));
    await Promise.race([written, late]).finally(() => clearTimeout(timer));
  } catch (err) {
    writer?.kill('SIGKILL');
    throw err;
  } finally {
    server.close();
    fs.closeSync(out);
    fs.rmSync(channel.listenPath, { force: true });
  }
  const file = path.join(stateDir, SNAPSHOT_FILE);
  fs.renameSync(partial, file);
  const stamps = Object.fromEntries(disks.map((d) => [d, stamp(d)]).filter(([, s]) => s));
  writeRecord(path.join(stateDir, SNAPSHOT_META), { fingerprint, savedAt: new Date().toISOString(), compressed, bytes: fs.statSync(file).size, disks: stamps } satisfies SnapshotMeta);
}

/** The snapshot's raw stream for a restoring qemu's INCOMING_FD: zstd's output, or the file itself. */
export interface SnapshotSource {
  /** What to give the child at INCOMING_FD. */
  stdio: number | Readable;
  /** Closes the daemon's copy once qemu holds its own. */
  release(): void;
  /** Stops the decompressor (after the restore, or when it failed). */
  end(): void;
}

export function openSnapshotSource(snapshot: { file: string; compressed: boolean }): SnapshotSource {
  if (!snapshot.compressed) {
    const fd = fs.openSync(snapshot.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    let open = true;
    const release = () => {
      if (open) fs.closeSync(fd);
      open = false;
    };
    return { stdio: fd, release, end: release };
  }
  const zstd = spawn('zstd', ['-d', '-q', '-c', snapshot.file], { stdio: ['ignore', 'pipe', 'ignore'] });
  zstd.once('error', () => undefined); // a missing zstd shows as the restore's own failure
  return { stdio: zstd.stdout, release: () => zstd.stdout.destroy(), end: () => zstd.kill('SIGKILL') };
}

/** Has a qemu started with `-incoming defer` and the snapshot at INCOMING_FD load it; the VM is left paused. */
export async function loadSnapshot(qmpSocket: string, timeoutMs: number): Promise<void> {
  await qmpExecute(qmpSocket, 'migrate-incoming', { uri: `fd:${INCOMING_FD}` });
  await waitForMigration(qmpSocket, timeoutMs, 'restore');
}

interface MigrationInfo {
  status?: string;
  'error-desc'?: string;
}

async function waitForMigration(qmpSocket: string, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await qmpExecute<MigrationInfo>(qmpSocket, 'query-migrate');
    if (info.status === 'completed') return;
    if (info.status === 'failed' || info.status === 'cancelled') throw new Error(`memory snapshot ${what} ${info.status}${info['error-desc'] ? `: ${info['error-desc']}` : ''}`);
    if (Date.now() > deadline) throw new Error(`memory snapshot ${what} did not finish within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, MIGRATE_POLL_MS));
  }
}
