// The wire format only changes on purpose: the protocol surface must equal the checked-in snapshot.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { protocolSurface } from '../../../src/protocol/surface.js';

const SNAPSHOT = fileURLToPath(new URL('../../../src/protocol/surface.json', import.meta.url));

describe('protocol surface', () => {
  it('matches src/protocol/surface.json', () => {
    const current = protocolSurface();
    if (process.env.AEGIS_UPDATE_SURFACE === '1') fs.writeFileSync(SNAPSHOT, `${JSON.stringify(current, null, 2)}\n`);
    const snapshot = JSON.parse(fs.readFileSync(SNAPSHOT, 'utf8'));
    // On a deliberate change: bump PROTOCOL_VERSION if old peers break, then rerun with
    // AEGIS_UPDATE_SURFACE=1 to rewrite the snapshot, and commit both.
    expect(current).toEqual(snapshot);
  });
});
