// Who a sandbox machine's guest is on the host: an id range of its own (id-ranges.ts) and the two user
// namespaces over it, one its processes join and one its idmapped mounts show files through. The
// namespaces of a range are made once per daemon and kept: they are only maps, and a range is claimed
// again only once no process of its previous machine is left.
import fs from 'node:fs';
import { IdRangeRegistry, mountIdMaps, processIdMaps, type IdRange } from './id-ranges.js';
import { HARNESS_REAL_UID } from './launch-script.js';
import { createUserNamespace } from './user-namespace.js';

export interface GuestIdentity {
  range: IdRange;
  /** The user namespace the machine's processes join: guest ids 0–65534 and the harness's real uid. */
  processNs: number;
  /** The one its idmapped mounts show files through. */
  mountNs: number;
}

export class GuestIdentities {
  private readonly ranges: IdRangeRegistry;
  private readonly namespaces = new Map<number, Promise<Omit<GuestIdentity, 'range'>>>();

  /** `registry`: where ranges are claimed (the host-wide default, or a test's own). */
  constructor(registry?: string) {
    this.ranges = new IdRangeRegistry(registry);
  }

  /** A free range for `owner` (a machine directory) and its user namespaces, held by this daemon. */
  async claim(owner: string): Promise<GuestIdentity> {
    const range = this.ranges.claim(owner);
    let made = this.namespaces.get(range.slot);
    if (!made) {
      made = makeUserNamespaces(range);
      this.namespaces.set(range.slot, made);
    }
    try {
      return { range, ...(await made) };
    } catch (err) {
      this.namespaces.delete(range.slot);
      this.ranges.release(range, owner);
      throw err;
    }
  }

  /** Frees `range` once no process of its machine is left. */
  release(range: IdRange, owner: string): void {
    this.ranges.release(range, owner);
  }
}

async function makeUserNamespaces(range: IdRange): Promise<Omit<GuestIdentity, 'range'>> {
  const made = await Promise.allSettled([createUserNamespace(processIdMaps(range, HARNESS_REAL_UID)), createUserNamespace(mountIdMaps(range))]);
  const [processNs, mountNs] = made.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
  if (processNs === undefined || mountNs === undefined) {
    for (const fd of [processNs, mountNs]) if (fd !== undefined) fs.closeSync(fd);
    throw (made.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason;
  }
  return { processNs, mountNs };
}
