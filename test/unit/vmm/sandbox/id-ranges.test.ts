// Host uid ranges for sandbox machines: claimed one file each in a host-wide registry, never twice, freed
// by their owner only, and taken back from owners that vanished without freeing them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIRST_ID_BASE, ID_RANGE_SIZE, ID_RANGE_SLOTS, IdRangeRegistry, mountIdMaps, processIdMaps, rangeOf } from '../../../../src/vmm/sandbox/id-ranges.js';

describe('id range registry', () => {
  let dir: string;
  let registry: IdRangeRegistry;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'id-ranges-'));
    registry = new IdRangeRegistry(dir);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('hands out the lowest free range, one per owner, above the ranges systemd and /etc/subuid use', () => {
    const a = registry.claim('/m/a');
    const b = registry.claim('/m/b');
    expect(a).toEqual({ slot: 0, base: FIRST_ID_BASE });
    expect(b).toEqual({ slot: 1, base: FIRST_ID_BASE + ID_RANGE_SIZE });
    expect(FIRST_ID_BASE).toBe(0x70000000);
    expect(rangeOf(ID_RANGE_SLOTS - 1).base + ID_RANGE_SIZE).toBeLessThanOrEqual(0x7ffe0000);
    expect(JSON.parse(fs.readFileSync(path.join(dir, '0'), 'utf8')).owner).toBe('/m/a');
    // Another registry on the same directory (another daemon) sees both as taken.
    expect(new IdRangeRegistry(dir).claim('/other/c').slot).toBe(2);
  });

  it('frees a range for its owner only, and hands it out again', () => {
    const a = registry.claim('/m/a');
    registry.release(a, '/m/somebody-else');
    expect(fs.existsSync(path.join(dir, '0'))).toBe(true);
    registry.release(a, '/m/a');
    expect(registry.claim('/m/d').slot).toBe(0);
  });

  it('takes back a range whose machine directory is gone, once no process uses it, before the free ones above it', () => {
    const old = Date.now() - 3_600_000;
    // The top slots: no machine of this host runs in them while the test looks for processes there.
    const [live, abandoned, free] = [ID_RANGE_SLOTS - 3, ID_RANGE_SLOTS - 2, ID_RANGE_SLOTS - 1];
    for (let slot = 0; slot < free; slot++) {
      const claim = slot === live ? { owner: dir, claimedAt: old } : slot === abandoned ? { owner: path.join(dir, 'gone'), claimedAt: old } : { owner: '/booting', claimedAt: Date.now() };
      fs.writeFileSync(path.join(dir, String(slot)), JSON.stringify(claim));
    }
    expect(registry.claim('/m/new')).toEqual(rangeOf(abandoned));
    expect(registry.claim('/m/next')).toEqual(rangeOf(free));
    // An old claim whose machine directory still exists is taken back only when every range is claimed.
    expect(registry.claim('/m/last')).toEqual(rangeOf(live));
  });

  it('takes back, once all are claimed, ranges no process uses whose claim is older than a boot', () => {
    fs.mkdirSync(dir, { recursive: true });
    const old = JSON.stringify({ owner: '/gone', claimedAt: Date.now() - 3_600_000 });
    const fresh = JSON.stringify({ owner: '/booting', claimedAt: Date.now() });
    // The last slot: no machine of this host runs in it while the test looks for processes there.
    const stale = ID_RANGE_SLOTS - 1;
    for (let slot = 0; slot < ID_RANGE_SLOTS; slot++) fs.writeFileSync(path.join(dir, String(slot)), slot === stale ? old : fresh);
    expect(registry.claim('/m/new')).toEqual(rangeOf(stale));
    expect(() => registry.claim('/m/another')).toThrow(/all 4094 uid ranges for sandbox machines are in use/);
  });

  it('maps guest ids 0-65534 to the range, the harness to its last id, and on-disk 65535 to the mounter only in mount maps', () => {
    const r = rangeOf(3);
    expect(processIdMaps(r, 2147483646)).toEqual({
      uid: `0 ${r.base} 65535\n2147483646 ${r.base + 65535} 1\n`,
      gid: `0 ${r.base} 65535\n`,
    });
    expect(mountIdMaps(r).uid).toBe(`0 ${r.base} 65535\n65535 0 1\n`);
  });
});
