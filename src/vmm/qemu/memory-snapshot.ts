// Memory snapshots of a paused VM, kept in the instance's state dir next to its disk so that a stopped
// instance resumes where it was instead of booting: QMP `migrate` streams the guest's RAM and device
// state through zstd into a file, and a new qemu started with `-incoming defer` reads it back.
//
// A snapshot is only valid with the exact machine it came from (kernel, initramfs, disks, memory, CPUs,
// qemu build) and its writable disks as they were when it was taken (the guest's page cache believes so),
// so it is consumed by the first restore and discarded by any boot that cannot use it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readRecord, writeRecord } from '../record-file.js';
import { which } from '../../util/which.js';
import { qmpExecute } from './qmp-client.js';

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

/** Single-quotes a path for the shell qemu runs `exec:` migration commands with. */
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Saves the (paused) VM's memory and device state into `stateDir`. The VM stays stopped afterwards. */
export async function saveSnapshot(qmpSocket: string, stateDir: string, fingerprint: string, disks: string[], timeoutMs: number): Promise<void> {
  discardSnapshot(stateDir);
  const partial = path.join(stateDir, `${SNAPSHOT_FILE}.partial`);
  // Guest RAM is mostly zero pages and text: zstd's fastest level shrinks it several times over for less
  // time than writing the difference would take.
  const compressed = which('zstd') !== undefined;
  const sink = compressed ? `zstd -1 -q -f -o ${shellQuote(partial)}` : `cat > ${shellQuote(partial)}`;
  await qmpExecute(qmpSocket, 'stop');
  await qmpExecute(qmpSocket, 'migrate', { uri: `exec:${sink}` });
  await waitForMigration(qmpSocket, timeoutMs, 'save');
  const file = path.join(stateDir, SNAPSHOT_FILE);
  fs.renameSync(partial, file);
  const stamps = Object.fromEntries(disks.map((d) => [d, stamp(d)]).filter(([, s]) => s));
  writeRecord(path.join(stateDir, SNAPSHOT_META), { fingerprint, savedAt: new Date().toISOString(), compressed, bytes: fs.statSync(file).size, disks: stamps } satisfies SnapshotMeta);
}

/** Feeds a snapshot to a qemu started with `-incoming defer`; the VM is left paused. */
export async function loadSnapshot(qmpSocket: string, snapshot: { file: string; compressed: boolean }, timeoutMs: number): Promise<void> {
  const source = snapshot.compressed ? `zstd -d -q -c ${shellQuote(snapshot.file)}` : `cat ${shellQuote(snapshot.file)}`;
  await qmpExecute(qmpSocket, 'migrate-incoming', { uri: `exec:${source}` });
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
