// How many times each key was reconciled since the daemon started: the cheap evidence that a burst of
// writes caused a bounded number of reconciles (no storm), served by GET /v1/status/reconciles.

/** Keys remembered per controller; past this the least recently reconciled key's count is dropped. */
const MAX_KEYS = 4096;

export interface ReconcileCountsView {
  total: number;
  keys: Record<string, number>;
}

export class ReconcileCounts {
  private total = 0;
  private readonly byKey = new Map<string, number>();

  record(key: string): void {
    this.total++;
    const n = (this.byKey.get(key) ?? 0) + 1;
    // Re-inserted so the Map's order is least recently reconciled first.
    this.byKey.delete(key);
    this.byKey.set(key, n);
    if (this.byKey.size > MAX_KEYS) this.byKey.delete(this.byKey.keys().next().value!);
  }

  view(): ReconcileCountsView {
    return { total: this.total, keys: Object.fromEntries(this.byKey) };
  }
}
