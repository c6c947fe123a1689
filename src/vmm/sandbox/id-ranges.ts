// The host uid/gid range each sandbox machine's user namespace maps to: root in the guest is an
// unprivileged host uid, and no two machines share a range (so no machine can signal, trace or share
// per-user kernel limits with another). Ranges are claimed host-wide, across every $AEGIS_HOME, as files
// in a registry under /run (gone at reboot, like the machines), one file per range, under a lock that
// every daemon of the host takes for the few milliseconds a claim or a release lasts.
import fs from 'node:fs';
import path from 'node:path';
import { overCapacity } from '../../errors/codes.js';
import { lockExclusive } from '../../util/libc.js';
import type { IdMaps } from './user-namespace.js';

/** Ids per machine: 0–65534 for the guest, the last one for the harness's real uid (see launch-script.ts). */
export const ID_RANGE_SIZE = 65536;
/**
 * 0x70000000: above the ranges systemd hands to containers (0x80000–0x6fffffff, systemd-nspawn's
 * --private-users=pick) and to users (/etc/subuid usually starts at 100000), below 2^31.
 */
export const FIRST_ID_BASE = 0x7000_0000;
/** Up to 0x7ffe0000, where systemd's own special ranges begin. */
export const ID_RANGE_SLOTS = (0x7ffe_0000 - FIRST_ID_BASE) / ID_RANGE_SIZE;
export const DEFAULT_REGISTRY = '/run/aegis/id-ranges';
/** A claim younger than this may belong to a machine still booting, with no process in the range yet. */
const CLAIM_GRACE_MS = 60_000;

export interface IdRange {
  slot: number;
  /** The first host id of the range: guest root. */
  base: number;
}

interface Claim {
  /** The machine directory that holds the range. */
  owner: string;
  claimedAt: number;
}

export class IdRangeRegistry {
  constructor(private readonly dir = DEFAULT_REGISTRY) {}

  /**
   * Claims the lowest free range for `owner` (a machine directory). A range whose owner directory is gone
   * (its machine destroyed without a release, its $AEGIS_HOME deleted) is free again once no process runs
   * with its ids; when every range is claimed, so is any such range whose claim is older than a boot.
   */
  claim(owner: string): IdRange {
    return this.locked(() => {
      const taken = new Set(fs.readdirSync(this.dir));
      const claim: Claim = { owner, claimedAt: Date.now() };
      let inUse: Set<number> | undefined;
      const unused = (slot: number) => !(inUse ??= idsInUse()).has(slot);
      for (let slot = 0; slot < ID_RANGE_SLOTS; slot++) {
        if (!taken.has(String(slot)) || (this.abandoned(slot) && unused(slot))) return this.write(slot, claim);
      }
      for (let slot = 0; slot < ID_RANGE_SLOTS; slot++) {
        if (this.old(slot) && unused(slot)) return this.write(slot, claim);
      }
      throw overCapacity(`all ${ID_RANGE_SLOTS} uid ranges for sandbox machines are in use on this host`);
    });
  }

  /** Frees `range` if `owner` still holds it (a stale claim may have been taken over since). */
  release(range: IdRange, owner: string): void {
    this.locked(() => {
      if (this.read(range.slot)?.owner === owner) fs.rmSync(this.file(range.slot), { force: true });
    });
  }

  private locked<T>(fn: () => T): T {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const lockFile = path.join(this.dir, '.lock');
    const fd = fs.openSync(lockFile, 'a', 0o600);
    try {
      lockExclusive(fd, lockFile);
      return fn();
    } finally {
      fs.closeSync(fd); // releases the lock
    }
  }

  private write(slot: number, claim: Claim): IdRange {
    fs.writeFileSync(this.file(slot), JSON.stringify(claim) + '\n', { mode: 0o600 });
    return rangeOf(slot);
  }

  /** Claimed longer ago than a machine takes to boot (so it had its processes by now). */
  private old(slot: number): boolean {
    const claim = this.read(slot);
    return !claim || Date.now() - claim.claimedAt >= CLAIM_GRACE_MS;
  }

  /** An old claim whose machine directory is gone. */
  private abandoned(slot: number): boolean {
    const claim = this.read(slot);
    return this.old(slot) && (!claim || !fs.existsSync(claim.owner));
  }

  private read(slot: number): Claim | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.file(slot), 'utf8')) as Claim;
    } catch {
      return undefined;
    }
  }

  private file(slot: number): string {
    return path.join(this.dir, String(slot));
  }
}

/** Guest ids 0–65534; the range's last id is not one of them (see the maps below). */
export const GUEST_IDS = ID_RANGE_SIZE - 1;

/**
 * The maps of a machine's processes: guest id N is host id base+N, and `harnessUid` (the harness's real
 * uid, far above any image's users) is the range's last id.
 */
export function processIdMaps(range: IdRange, harnessUid: number): IdMaps {
  const guest = `0 ${range.base} ${GUEST_IDS}\n`;
  return { uid: `${guest}${harnessUid} ${range.base + GUEST_IDS} 1\n`, gid: guest };
}

/**
 * How a machine's idmapped mounts show files: id N on disk (0–65534) is guest id N, so image layers,
 * disks and workspaces keep guest ids on disk whatever range a machine gets. On-disk id 65535 is host
 * root, which mounts the guest's overlay: overlayfs creates its own work files as its mounter, and
 * through an idmapped layer that needs the mounter's id mapped. The guest never has that id.
 */
export function mountIdMaps(range: IdRange): IdMaps {
  const maps = `0 ${range.base} ${GUEST_IDS}\n${GUEST_IDS} 0 1\n`;
  return { uid: maps, gid: maps };
}

export function rangeOf(slot: number): IdRange {
  return { slot, base: FIRST_ID_BASE + slot * ID_RANGE_SIZE };
}

/** The slots that some live process's real, effective, saved or filesystem uid falls in. */
function idsInUse(): Set<number> {
  const slots = new Set<number>();
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let status: string;
    try {
      status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const uids = /^Uid:\s+(.*)$/m.exec(status)?.[1].split(/\s+/).map(Number) ?? [];
    for (const uid of uids) {
      if (uid >= FIRST_ID_BASE && uid < FIRST_ID_BASE + ID_RANGE_SLOTS * ID_RANGE_SIZE) slots.add(Math.floor((uid - FIRST_ID_BASE) / ID_RANGE_SIZE));
    }
  }
  return slots;
}
