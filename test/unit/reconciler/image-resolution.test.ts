// When an app's image is asked about again: retries back off (1 s doubling to 60 s), reconciles in between
// reuse the last answer, a changed reference is asked about at once, a resolved one after ten minutes.
import { describe, expect, it } from 'vitest';
import { ImageResolution } from '../../../src/reconciler/apps/image-resolution.js';

describe('ImageResolution', () => {
  const setup = () => {
    let now = 1_000_000;
    const asked: string[] = [];
    let available = false;
    const res = new ImageResolution(
      async (ref) => {
        asked.push(ref);
        if (!available) throw new Error(`registry r.test has no manifest 1 in app\n(MANIFEST_UNKNOWN)`);
        return 'sha256:abc';
      },
      () => now,
    );
    return { res, asked, advance: (ms: number) => (now += ms), appear: () => (available = true) };
  };

  it('retries a failure with doubling delays up to a minute, answering from memory in between', async () => {
    const { res, asked, advance } = setup();
    const first = await res.check('app-1', 'r.test/app:1');
    expect(first).toEqual({ condition: { type: 'ImageResolved', status: 'False', reason: 'ImageUnavailable', message: 'registry r.test has no manifest 1 in app (MANIFEST_UNKNOWN)' }, retryInMs: 1000 });
    // A reconcile for another reason (a secret changed) before the retry is due asks nothing.
    advance(400);
    expect((await res.check('app-1', 'r.test/app:1')).retryInMs).toBe(600);
    expect(asked).toHaveLength(1);
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      advance((await res.check('app-1', 'r.test/app:1')).retryInMs!);
      delays.push((await res.check('app-1', 'r.test/app:1')).retryInMs!);
    }
    expect(delays).toEqual([2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    expect(asked).toHaveLength(9);
  });

  it('asks at once about a changed reference, and again about a resolved one only after ten minutes', async () => {
    const { res, asked, advance, appear } = setup();
    await res.check('app-1', 'r.test/app:1');
    appear();
    const changed = await res.check('app-1', 'r.test/app:2');
    expect(changed).toEqual({ condition: { type: 'ImageResolved', status: 'True', reason: 'Resolved', message: 'r.test/app:2 is sha256:abc' } });
    advance(9 * 60_000);
    await res.check('app-1', 'r.test/app:2');
    expect(asked).toEqual(['r.test/app:1', 'r.test/app:2']);
    advance(60_000);
    await res.check('app-1', 'r.test/app:2');
    expect(asked).toHaveLength(3);
    // Another app with the same reference has its own check.
    await res.check('app-2', 'r.test/app:2');
    expect(asked).toHaveLength(4);
  });
});
