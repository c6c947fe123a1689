// Whether each app's image reference resolves (to a digest, from the cache or its registry, no layers
// pulled), remembered per app so that a reconcile asks the registry only when a check is due: a failed
// reference is retried with back-off, a resolved one is checked again after a while or when it changes.
import type { ConditionUpdate } from '../../resources/conditions.js';

export const IMAGE_RESOLVED = 'ImageResolved';

/** First retry after a failure; each further failure doubles it, up to RETRY_CAP_MS. */
const RETRY_BASE_MS = 1_000;
const RETRY_CAP_MS = 60_000;
/** A resolved reference is asked about again after this long (a tag may have been deleted). */
const RECHECK_MS = 10 * 60_000;

interface Check {
  image: string;
  failures: number;
  /** When the next resolution is due (ms since epoch). */
  due: number;
  condition: ConditionUpdate;
}

export interface ImageCheck {
  /** The `ImageResolved` condition. */
  condition: ConditionUpdate;
  /** Set while the image does not resolve: reconcile again after this many ms to retry. */
  retryInMs?: number;
}

export class ImageResolution {
  private readonly checks = new Map<string, Check>();

  constructor(
    /** Resolves a reference to its digest; rejects with a one-line message naming the cause. */
    private readonly resolve: (image: string) => Promise<string>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The state of `image` for the app `key`, resolving it first when no check of it is current. */
  async check(key: string, image: string): Promise<ImageCheck> {
    let c = this.checks.get(key);
    if (!c || c.image !== image || this.now() >= c.due) {
      c = await this.attempt(image, c?.image === image ? c.failures : 0);
      this.checks.set(key, c);
    }
    return { condition: c.condition, ...(c.failures > 0 ? { retryInMs: Math.max(0, c.due - this.now()) } : {}) };
  }

  /** The app is gone. */
  forget(key: string): void {
    this.checks.delete(key);
  }

  private async attempt(image: string, failures: number): Promise<Check> {
    try {
      const digest = await this.resolve(image);
      return { image, failures: 0, due: this.now() + RECHECK_MS, condition: { type: IMAGE_RESOLVED, status: 'True', reason: 'Resolved', message: `${image} is ${digest}` } };
    } catch (err) {
      const n = failures + 1;
      const delay = Math.min(RETRY_BASE_MS * 2 ** (n - 1), RETRY_CAP_MS);
      return { image, failures: n, due: this.now() + delay, condition: { type: IMAGE_RESOLVED, status: 'False', reason: 'ImageUnavailable', message: oneLine(err) } };
    }
  }
}

/** Registry errors are one line already; anything else is flattened so the condition stays one line. */
function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ').trim();
}
